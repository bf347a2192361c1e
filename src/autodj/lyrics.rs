//! Timed lyrics during AutoDJ play: when a track with LRC lyrics starts, its lines are scheduled on
//! the stream clock (the track's start in stream time plus each line's LRC time) and each is sent as
//! a `lyrics` event to the stream's linked room (on every node, through the room fan-out) when the
//! mixer renders that moment. The event carries the line's stream time and its wall-clock time
//! (`at`: the broadcast's start plus the stream time), the clock HLS's `EXT-X-PROGRAM-DATE-TIME`
//! tags are on, so a player shows the line when its playback reaches `at`.

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

    /// Nothing more of this track is heard (a live source took over).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// The lines whose time has been rendered by `now` (stream seconds).
    pub fn due(&mut self, now: f64) -> Vec<TimedLine> {
        let mut due = Vec::new();
        while self.pending.front().is_some_and(|l| l.stream_time <= now) {
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
        clock.track_started(TrackId(2), Some("[00:00.10]x"), 20.0);
        clock.clear();
        assert!(clock.due(100.0).is_empty());
    }
}
