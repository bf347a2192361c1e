//! Timed lyrics during AutoDJ play: when a track with LRC lyrics starts, its lines are scheduled on
//! the stream clock (the track's start in stream time plus each line's LRC time) and each is sent as
//! a `lyrics` event to the stream's linked room (on every node, through the room fan-out) when the
//! mixer renders that moment. The event carries the line's stream time and its wall-clock time
//! (`at`: the broadcast's start plus the stream time), the clock HLS's `EXT-X-PROGRAM-DATE-TIME`
//! tags are on, so a player shows the line when its playback reaches `at`.
//!
//! A live takeover pauses the track on air; its lines are held from the end of the handover and,
//! when the programme comes back, move on by the time it was paused, so they resume with the track.

use crate::tracks::lrc::{self, Word};
use bytestring::ByteString;
use serde::Serialize;
use std::collections::VecDeque;
use veza_actors::ids::TrackId;
use veza_actors::{RoomId, StreamId};

/// A line waiting for its time.
#[derive(Debug, Clone)]
pub struct TimedLine {
    pub stream_time: f64,
    pub track: Option<TrackId>,
    pub text: String,
    pub words: Vec<Word>,
    /// Word times as stream times (enhanced LRC).
    pub word_times: Vec<f64>,
}

/// The lines of the track on air, in time order.
#[derive(Default)]
pub struct LyricsClock {
    pending: VecDeque<TimedLine>,
    /// While a live source is on: lines from this stream time on wait for the programme.
    held_from: Option<f64>,
}

impl LyricsClock {
    /// A track started at `start` (stream seconds): its lines replace what was pending.
    pub fn track_started(&mut self, track: TrackId, lyrics: Option<&str>, start: f64) {
        self.pending.clear();
        let Some(parsed) = lyrics.and_then(|text| lrc::parse(text).ok()) else {
            return;
        };
        self.pending = parsed
            .lines
            .into_iter()
            .map(|line| TimedLine {
                stream_time: start + line.time_ms as f64 / 1000.0,
                track: Some(track),
                word_times: line
                    .words
                    .iter()
                    .map(|w| start + w.time_ms as f64 / 1000.0)
                    .collect(),
                text: line.text,
                words: line.words,
            })
            .collect();
    }

    /// The programme pauses (a live source takes over): lines from stream time `from` (where the
    /// handover ends) on wait for [`LyricsClock::resume`].
    pub fn pause(&mut self, from: f64) {
        self.held_from = Some(from);
    }

    /// The programme is back after a pause of `paused` seconds: the held lines move on by that
    /// much, so the paused track's lines go on from where it paused.
    pub fn resume(&mut self, paused: f64) {
        if self.held_from.take().is_none() {
            return;
        }
        for line in &mut self.pending {
            line.stream_time += paused;
            for t in &mut line.word_times {
                *t += paused;
            }
        }
    }

    /// The lines whose time has been rendered by `now` (stream seconds).
    pub fn due(&mut self, now: f64) -> Vec<TimedLine> {
        let held = self.held_from.unwrap_or(f64::INFINITY);
        let mut due = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|l| l.stream_time <= now && l.stream_time < held)
        {
            due.extend(self.pending.pop_front());
        }
        due
    }
}

#[derive(Serialize)]
struct WordView<'a> {
    text: &'a str,
    /// Wall-clock ms.
    at: i64,
}

/// `{"type":"lyrics","room","stream","track","text","words":[{text,at}],"stream_time","at"}`.
#[derive(Serialize)]
struct LyricsEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    stream: StreamId,
    /// The track (null for a line a live broadcaster pushed).
    track: Option<TrackId>,
    text: &'a str,
    words: Vec<WordView<'a>>,
    /// Seconds since the broadcast began (the HLS segments' clock).
    stream_time: f64,
    /// Wall-clock ms of the line: the broadcast's start plus `stream_time`.
    at: i64,
}

/// The `lyrics` frame for `line` of a broadcast that began at `started_ms`.
pub fn event(room: RoomId, stream: StreamId, started_ms: i64, line: &TimedLine) -> ByteString {
    let wall = |t: f64| started_ms + (t * 1000.0).round() as i64;
    let frame = LyricsEvent {
        kind: "lyrics",
        room,
        stream,
        track: line.track,
        text: &line.text,
        words: line
            .words
            .iter()
            .zip(&line.word_times)
            .map(|(w, t)| WordView {
                text: &w.text,
                at: wall(*t),
            })
            .collect(),
        stream_time: (line.stream_time * 1000.0).round() / 1000.0,
        at: wall(line.stream_time),
    };
    // Strings and numbers only: serialising cannot fail.
    ByteString::from(serde_json::to_string(&frame).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fall_due_on_the_stream_clock() {
        let mut clock = LyricsClock::default();
        clock.track_started(
            TrackId(1),
            Some("[00:01.00]one\n[00:02.50]two <00:03.00>word"),
            10.0,
        );
        assert!(clock.due(10.9).is_empty());
        let one = clock.due(11.0);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].text, "one");
        let two = clock.due(13.0);
        assert_eq!(two[0].stream_time, 12.5);
        let frame = event(RoomId(5), StreamId(6), 1_000_000, &two[0]);
        assert!(frame.contains("\"at\":1012500"), "{frame}");
        assert!(frame.contains("\"stream_time\":12.5"), "{frame}");
    }

    #[test]
    fn a_paused_tracks_lines_resume_with_it() {
        let mut clock = LyricsClock::default();
        clock.track_started(
            TrackId(1),
            Some("[00:01.00]one\n[00:03.00]two <00:03.50>more\n[00:05.00]three"),
            10.0,
        );
        assert_eq!(clock.due(11.5).len(), 1);
        // A live source takes over at 12.0 with a 0.5 s handover: the track pauses at 12.5.
        clock.pause(12.5);
        assert!(clock.due(40.0).is_empty(), "nothing while live is on");
        // The programme is back after 20 s: `two` (3 s into the track, 0.5 s after the pause) is
        // due 0.5 s after the programme resumes at 32.5, its word with it.
        clock.resume(20.0);
        assert!(clock.due(32.9).is_empty());
        let two = clock.due(33.0);
        assert_eq!(two.len(), 1);
        assert_eq!(two[0].text, "two more");
        assert_eq!(two[0].stream_time, 33.0);
        assert_eq!(two[0].word_times, vec![33.5]);
        let three = clock.due(35.0);
        assert_eq!(three[0].stream_time, 35.0);
        // A resume without a pause moves nothing.
        clock.track_started(TrackId(2), Some("[00:01.00]x"), 50.0);
        clock.resume(10.0);
        assert_eq!(clock.due(51.0).len(), 1);
    }

    #[test]
    fn lines_before_the_handover_ends_still_fall_due() {
        let mut clock = LyricsClock::default();
        clock.track_started(TrackId(1), Some("[00:01.00]a\n[00:02.00]b"), 0.0);
        clock.pause(1.5);
        let due = clock.due(5.0);
        assert_eq!(due.len(), 1, "`a` was heard, fading out");
        assert!(clock.due(100.0).is_empty());
        // A track that starts during the handover keeps the hold.
        clock.track_started(TrackId(2), Some("[00:00.50]c"), 1.2);
        assert!(clock.due(100.0).is_empty());
        clock.resume(100.0);
        assert_eq!(clock.due(102.0)[0].text, "c");
    }
}
