//! HLS playlist text: the master (one entry per MP3/AAC variant) and each variant's media playlist.

use crate::stream::ladder::{Codec, Variant};
use std::fmt::Write;

/// One segment of a media playlist.
#[derive(Debug, Clone)]
pub struct Segment {
    pub seq: u64,
    /// Stream time of the first sample, in seconds since the broadcast began.
    pub start: f64,
    pub duration: f64,
    /// Wall-clock time of the first sample (unix ms), for EXT-X-PROGRAM-DATE-TIME.
    pub wall_ms: i64,
}

impl Segment {
    pub fn end(&self) -> f64 {
        self.start + self.duration
    }
}

pub fn segment_name(seq: u64, codec: Codec) -> String {
    match codec {
        Codec::Aac => format!("seg-{seq}.aac"),
        _ => format!("seg-{seq}.mp3"),
    }
}

/// Whether `name` is a segment file name this server writes (guards file serving).
pub fn is_segment_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("seg-") else {
        return false;
    };
    let Some((digits, ext)) = rest.split_once('.') else {
        return false;
    };
    !digits.is_empty()
        && digits.len() <= 20
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(ext, "mp3" | "aac")
}

/// `2026-11-26T04:31:00.123Z` from unix milliseconds.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A media playlist over `segments` (oldest first); `ended` adds EXT-X-ENDLIST.
pub fn media(segments: &[Segment], codec: Codec, target_seconds: u32, ended: bool) -> String {
    let longest = segments.iter().map(|s| s.duration).fold(0.0, f64::max);
    let target = (longest.round() as u32).max(target_seconds).max(1);
    let first = segments.first().map(|s| s.seq).unwrap_or(0);
    let mut out = String::with_capacity(128 + segments.len() * 96);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for s in segments {
        let _ = write!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.3},\n{}\n",
            iso8601(s.wall_ms),
            s.duration,
            segment_name(s.seq, codec)
        );
    }
    if ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// Whether a variant goes into HLS (Opus is progressive only).
pub fn in_hls(variant: &Variant) -> bool {
    matches!(variant.codec, Codec::Mp3 | Codec::Aac)
}

/// The master playlist; `query` (e.g. `?sid=...`) is appended to every variant URI so playlist
/// polls can be counted per listener.
pub fn master(variants: &[Variant], query: &str) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    let mut sorted: Vec<&Variant> = variants.iter().filter(|v| in_hls(v)).collect();
    sorted.sort_by_key(|v| v.kbps);
    for v in sorted {
        let codecs = match v.codec {
            Codec::Aac => "mp4a.40.2",
            _ => "mp4a.40.34",
        };
        // Peak rate: CBR audio plus the ID3 tag per segment.
        let bandwidth = v.kbps * 1000 + 1000;
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{codecs}\"\n{v}/index.m3u8{query}\n"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_iso8601_with_millis() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_667_460_123), "2026-11-26T04:31:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_media_playlist_lists_segments_with_dates_and_ends() {
        let segs: Vec<Segment> = (5..8)
            .map(|i| Segment {
                seq: i,
                start: i as f64 * 2.0,
                duration: 2.012,
                wall_ms: 1_795_667_460_000 + i as i64 * 2000,
            })
            .collect();
        let text = media(&segs, Codec::Mp3, 2, false);
        assert!(text.starts_with("#EXTM3U\n"));
        assert!(text.contains("#EXT-X-TARGETDURATION:2\n"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:5\n"));
        assert!(text.contains("#EXTINF:2.012,\nseg-5.mp3\n"));
        assert_eq!(text.matches("#EXT-X-PROGRAM-DATE-TIME:").count(), 3);
        assert!(!text.contains("ENDLIST"));
        assert!(media(&segs, Codec::Aac, 2, true).ends_with("seg-7.aac\n#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn the_master_has_mp3_and_aac_but_not_opus() {
        let ladder = crate::stream::ladder::parse_ladder("mp3-128,opus-96,aac-128,mp3-64").unwrap();
        let text = master(&ladder, "?sid=abc");
        assert_eq!(text.matches("#EXT-X-STREAM-INF").count(), 3);
        assert!(text.contains("BANDWIDTH=65000,CODECS=\"mp4a.40.34\"\nmp3-64/index.m3u8?sid=abc"));
        assert!(text.contains("CODECS=\"mp4a.40.2\"\naac-128/index.m3u8"));
        assert!(!text.contains("opus"));
    }

    #[test]
    fn only_our_segment_names_pass() {
        assert!(is_segment_name("seg-12.mp3"));
        assert!(is_segment_name("seg-0.aac"));
        for bad in [
            "seg-.mp3",
            "seg-1.ts",
            "../seg-1.mp3",
            "seg-1.mp3/..",
            "seg-1a.mp3",
            "index.m3u8",
        ] {
            assert!(!is_segment_name(bad), "{bad}");
        }
    }
}
