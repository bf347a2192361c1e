//! A slot's recurrence in local time and its concrete occurrences as UTC instants. Times are kept
//! local (weekday + wall-clock time in an IANA zone) so a weekly show stays at 20:00 in Paris and
//! its UTC instant moves with DST. Pure: no store, no clock.

use super::ScheduleError;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Weekday,
};
use chrono_tz::Tz;

/// The longest slot: a day (a weekly slot longer than a week would clash with itself).
pub const MAX_DURATION_MIN: i64 = 24 * 60;
const MS_PER_MIN: i64 = 60_000;

/// When a slot comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    /// Every `weekday` at `time`.
    Weekly { weekday: Weekday, time: NaiveTime },
    /// Once, at this local date and time.
    Once { at: NaiveDateTime },
}

/// A slot as the schedule works with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotSpec {
    pub recurrence: Recurrence,
    pub zone: Tz,
    pub duration_min: i64,
}

/// One concrete occurrence of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// UTC, ms since the epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    pub local: DateTime<Tz>,
}

/// `"monday"`..`"sunday"` (or the three-letter forms, any case).
pub fn parse_weekday(s: &str) -> Result<Weekday, ScheduleError> {
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| ScheduleError::invalid("weekday must be monday..sunday"))
}

/// `"HH:MM"` or `"HH:MM:SS"` (24 h).
pub fn parse_time(s: &str) -> Result<NaiveTime, ScheduleError> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
        .filter(|t| t.nanosecond() == 0)
        .ok_or_else(|| ScheduleError::invalid("time must be HH:MM or HH:MM:SS (00:00-23:59:59)"))
}

/// `"HH:MM"`, or `"HH:MM:SS"` when the seconds are not zero.
pub fn format_time(t: NaiveTime) -> String {
    if t.second() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// `"YYYY-MM-DD"`.
pub fn parse_date(s: &str) -> Result<NaiveDate, ScheduleError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ScheduleError::invalid("date must be YYYY-MM-DD"))
}

/// An IANA zone name such as `Europe/Paris`.
pub fn parse_zone(s: &str) -> Result<Tz, ScheduleError> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::invalid("time_zone must be an IANA zone such as Europe/Paris"))
}

pub fn check_duration(minutes: i64) -> Result<i64, ScheduleError> {
    if (1..=MAX_DURATION_MIN).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(ScheduleError::invalid(format!(
            "duration_minutes must be 1-{MAX_DURATION_MIN}"
        )))
    }
}

/// The instant a local wall-clock time names in `zone`. Ambiguous (the hour repeated when clocks
/// go back): the first of the two. Skipped (the hour lost when clocks go forward): the same
/// distance past the gap, as the offset before the change would read it (02:30 on a spring-forward
/// night in Paris is 03:30 CEST).
pub fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Tz>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(first, _) => Some(first),
        LocalResult::None => {
            // The offset in force just before the gap, applied to the wall-clock time.
            let before = zone
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()?;
            let offset = before.offset().fix().local_minus_utc();
            let utc = local - Duration::seconds(i64::from(offset));
            Some(zone.from_utc_datetime(&utc))
        }
    }
}

impl SlotSpec {
    fn occurrence_at(&self, local: NaiveDateTime) -> Option<Occurrence> {
        let start = resolve(self.zone, local)?;
        let start_ms = start.timestamp_millis();
        Some(Occurrence {
            start_ms,
            end_ms: start_ms + self.duration_min * MS_PER_MIN,
            local: start,
        })
    }

    /// The occurrences that start in `[from_ms, to_ms)`, in order.
    pub fn starting_in(&self, from_ms: i64, to_ms: i64) -> Vec<Occurrence> {
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return out;
        }
        match self.recurrence {
            Recurrence::Once { at } => out.extend(self.occurrence_at(at)),
            Recurrence::Weekly { weekday, time } => {
                let (Some(first), Some(last)) =
                    (local_date(self.zone, from_ms), local_date(self.zone, to_ms))
                else {
                    return out;
                };
                // A day either side: a local date and its UTC instant may differ by a day.
                let mut day = first - Duration::days(1);
                while day <= last + Duration::days(1) {
                    if day.weekday() == weekday {
                        out.extend(self.occurrence_at(day.and_time(time)));
                    }
                    day += Duration::days(1);
                }
            }
        }
        out.retain(|o| o.start_ms >= from_ms && o.start_ms < to_ms);
        out
    }

    /// The occurrences that overlap `[from_ms, to_ms)` (started before and still on, or starting
    /// in it), in order.
    pub fn overlapping(&self, from_ms: i64, to_ms: i64) -> Vec<Occurrence> {
        let mut out = self.starting_in(from_ms - self.duration_min * MS_PER_MIN, to_ms);
        out.retain(|o| o.end_ms > from_ms);
        out
    }

    /// The first occurrence that starts at or after `from_ms` (within a year and a week).
    pub fn next_after(&self, from_ms: i64) -> Option<Occurrence> {
        const HORIZON_MS: i64 = 373 * 86_400_000;
        match self.recurrence {
            Recurrence::Once { at } => self.occurrence_at(at).filter(|o| o.start_ms >= from_ms),
            Recurrence::Weekly { .. } => self
                .starting_in(from_ms, from_ms + 8 * 86_400_000)
                .into_iter()
                .next()
                .or_else(|| {
                    self.starting_in(from_ms, from_ms + HORIZON_MS)
                        .into_iter()
                        .next()
                }),
        }
    }
}

fn local_date(zone: Tz, ms: i64) -> Option<NaiveDate> {
    zone.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn friday_8pm_paris() -> SlotSpec {
        SlotSpec {
            recurrence: Recurrence::Weekly {
                weekday: Weekday::Fri,
                time: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
            },
            zone: Paris,
            duration_min: 120,
        }
    }

    #[test]
    fn a_weekly_slot_keeps_its_local_time_across_dst() {
        let slot = friday_8pm_paris();
        // March 2027: clocks go forward on Sunday the 28th.
        let found = slot.starting_in(ms("2027-03-15T00:00:00Z"), ms("2027-04-05T00:00:00Z"));
        let starts: Vec<i64> = found.iter().map(|o| o.start_ms).collect();
        assert_eq!(
            starts,
            vec![
                ms("2027-03-19T19:00:00Z"), // CET, UTC+1
                ms("2027-03-26T19:00:00Z"),
                ms("2027-04-02T18:00:00Z"), // CEST, UTC+2
            ]
        );
        for o in &found {
            assert_eq!(o.local.format("%a %H:%M").to_string(), "Fri 20:00");
            assert_eq!(o.end_ms - o.start_ms, 2 * 3_600_000);
        }
        // And back in October (the 31st).
        let autumn = slot.starting_in(ms("2027-10-25T00:00:00Z"), ms("2027-11-08T00:00:00Z"));
        let starts: Vec<i64> = autumn.iter().map(|o| o.start_ms).collect();
        assert_eq!(
            starts,
            vec![ms("2027-10-29T18:00:00Z"), ms("2027-11-05T19:00:00Z")]
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_past_it_and_a_repeated_one_takes_the_first() {
        let at = |d: &str, t: &str| parse_date(d).unwrap().and_time(parse_time(t).unwrap());
        let gap = resolve(Paris, at("2027-03-28", "02:30")).unwrap();
        assert_eq!(gap.timestamp_millis(), ms("2027-03-28T01:30:00Z"));
        assert_eq!(gap.format("%H:%M").to_string(), "03:30");
        let twice = resolve(Paris, at("2027-10-31", "02:30")).unwrap();
        assert_eq!(twice.timestamp_millis(), ms("2027-10-31T00:30:00Z"));
    }

    #[test]
    fn occurrences_overlapping_a_window_include_one_already_on() {
        let slot = friday_8pm_paris();
        // 21:00 Paris on a Friday in winter: the 20:00 show is on.
        let on = slot.overlapping(ms("2027-01-08T20:00:00Z"), ms("2027-01-08T20:30:00Z"));
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].start_ms, ms("2027-01-08T19:00:00Z"));
        assert!(slot
            .starting_in(ms("2027-01-08T20:00:00Z"), ms("2027-01-08T20:30:00Z"))
            .is_empty());
    }

    #[test]
    fn a_one_off_slot_occurs_once_in_its_zone() {
        let slot = SlotSpec {
            recurrence: Recurrence::Once {
                at: parse_date("2027-07-14")
                    .unwrap()
                    .and_time(parse_time("22:15").unwrap()),
            },
            zone: "America/New_York".parse().unwrap(),
            duration_min: 30,
        };
        let all = slot.starting_in(ms("2027-01-01T00:00:00Z"), ms("2028-01-01T00:00:00Z"));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].start_ms, ms("2027-07-15T02:15:00Z"));
        assert_eq!(slot.next_after(ms("2027-07-16T00:00:00Z")), None);
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("Europe/Paris").is_ok());
        assert!(parse_time("24:00").is_err());
        assert!(parse_time("8pm").is_err());
        assert_eq!(format_time(parse_time("20:15:30").unwrap()), "20:15:30");
        assert_eq!(format_time(parse_time("20:15").unwrap()), "20:15");
        assert!(parse_date("2027-02-30").is_err());
        assert!(parse_weekday("someday").is_err());
        assert_eq!(parse_weekday("Friday").unwrap(), Weekday::Fri);
        assert!(check_duration(0).is_err());
        assert!(check_duration(MAX_DURATION_MIN + 1).is_err());
    }
}
