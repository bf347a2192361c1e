//! A stream's analytics over a range: per-minute counts (aggregates plus raw sessions) turned into
//! points of `step`, the peak, the average listen time, and chat messages per point; as JSON
//! (`AnalyticsReport`) or CSV.

use super::minutes::{Counts, Minutes, MINUTE_MS};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use utoipa::ToSchema;
use veza_actors::StreamId;

/// The range a report covers: `from` is the start of a minute and `step_ms` a whole number of
/// minutes, so every point is made of whole minutes.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
}

impl Range {
    pub fn points(&self) -> i64 {
        (self.to - self.from + self.step_ms - 1) / self.step_ms
    }
}

/// A stream's listeners and chat over a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsReport {
    #[schema(value_type = String)]
    pub stream: StreamId,
    /// Start of the range (ms, a minute's start).
    pub from: i64,
    /// End of the range (ms, excluded).
    pub to: i64,
    /// Seconds per point.
    pub step: i64,
    /// Variants that had listeners in the range, sorted.
    pub variants: Vec<String>,
    pub points: Vec<AnalyticsPoint>,
    pub peak: AnalyticsPeak,
    /// Milliseconds listened in the range over sessions started in it, in seconds.
    pub average_listen_seconds: f64,
    /// Sessions (progressive connections and HLS session tokens) started in the range.
    pub sessions: i64,
}

/// One point: the step starting at `t`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsPoint {
    /// Start of the point's step (ms).
    pub t: i64,
    /// Per variant: the most sessions overlapping one minute of the step.
    pub listeners: BTreeMap<String, i64>,
    /// The most sessions (all variants) overlapping one minute of the step.
    pub total: i64,
    /// Chat messages sent in the stream's linked room during the step.
    pub chat_messages: i64,
}

/// The minute with the most listeners.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsPeak {
    pub listeners: i64,
    /// Its start (ms); `null` when nobody listened.
    pub at: Option<i64>,
}

/// Builds the report from per-minute counts (minutes inside the range) and message times.
pub fn build(stream: StreamId, range: Range, minutes: &Minutes, chat: &[i64]) -> AnalyticsReport {
    let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
    let mut variants = BTreeSet::new();
    let mut sum = Counts::default();
    for ((minute, variant), counts) in minutes {
        *totals.entry(*minute).or_default() += counts.listeners;
        variants.insert(variant.clone());
        sum.add(*counts);
    }
    let n = range.points().max(0) as usize;
    let mut points: Vec<AnalyticsPoint> = (0..n)
        .map(|k| AnalyticsPoint {
            t: range.from + k as i64 * range.step_ms,
            listeners: variants.iter().map(|v| (v.clone(), 0)).collect(),
            total: 0,
            chat_messages: 0,
        })
        .collect();
    let index = |t: i64| -> Option<usize> {
        (t >= range.from && t < range.to).then(|| ((t - range.from) / range.step_ms) as usize)
    };
    for ((minute, variant), counts) in minutes {
        if let Some(point) = index(*minute).and_then(|i| points.get_mut(i)) {
            let n = point.listeners.entry(variant.clone()).or_default();
            *n = (*n).max(counts.listeners);
        }
    }
    let mut peak = AnalyticsPeak {
        listeners: 0,
        at: None,
    };
    for (minute, total) in &totals {
        if let Some(point) = index(*minute).and_then(|i| points.get_mut(i)) {
            point.total = point.total.max(*total);
        }
        if *total > peak.listeners {
            peak = AnalyticsPeak {
                listeners: *total,
                at: Some(*minute),
            };
        }
    }
    for t in chat {
        if let Some(point) = index(*t).and_then(|i| points.get_mut(i)) {
            point.chat_messages += 1;
        }
    }
    AnalyticsReport {
        stream,
        from: range.from,
        to: range.to,
        step: range.step_ms / 1000,
        variants: variants.into_iter().collect(),
        points,
        peak,
        average_listen_seconds: if sum.sessions_started > 0 {
            sum.listen_ms as f64 / 1000.0 / sum.sessions_started as f64
        } else {
            0.0
        },
        sessions: sum.sessions_started,
    }
}

/// The points as CSV: `t` (ms), one column per variant, `total`, `chat_messages`.
pub fn to_csv(report: &AnalyticsReport) -> String {
    let mut out = String::from("t");
    for v in &report.variants {
        out.push(',');
        out.push_str(v);
    }
    out.push_str(",total,chat_messages\n");
    for p in &report.points {
        let _infallible = write!(out, "{}", p.t);
        for v in &report.variants {
            let _infallible = write!(out, ",{}", p.listeners.get(v).copied().unwrap_or(0));
        }
        let _infallible = writeln!(out, ",{},{}", p.total, p.chat_messages);
    }
    out
}

/// The minutes of a point start at multiples of this (a step is whole minutes).
pub const STEP_UNIT_MS: i64 = MINUTE_MS;

#[cfg(test)]
mod tests {
    use super::super::minutes::add_session;
    use super::*;

    #[test]
    fn points_peak_average_and_csv() {
        let mut m = Minutes::new();
        add_session(&mut m, "mp3-128", 0, 90_000, 0, 180_000);
        add_session(&mut m, "aac-128", 10_000, 40_000, 0, 180_000);
        add_session(&mut m, "aac-128", 70_000, 80_000, 0, 180_000);
        let range = Range {
            from: 0,
            to: 180_000,
            step_ms: 60_000,
        };
        let r = build(StreamId(7), range, &m, &[5_000, 61_000, 62_000]);
        assert_eq!(r.variants, ["aac-128", "mp3-128"]);
        assert_eq!(r.points.len(), 3);
        assert_eq!(r.points[0].total, 2);
        assert_eq!(r.points[1].listeners["aac-128"], 1);
        assert_eq!(r.points[2].total, 0);
        assert_eq!(r.points[1].chat_messages, 2);
        assert_eq!((r.peak.listeners, r.peak.at), (2, Some(0)));
        assert_eq!(r.sessions, 3);
        assert!((r.average_listen_seconds - 130.0 / 3.0).abs() < 1e-9);
        let csv = to_csv(&r);
        assert_eq!(
            csv,
            "t,aac-128,mp3-128,total,chat_messages\n0,1,1,2,1\n60000,1,1,2,2\n120000,0,0,0,0\n"
        );
    }
}
