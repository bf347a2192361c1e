//! The live streams' families, asked of each stream session at scrape time (the sessions own
//! these numbers): listeners per variant, each rung's real-time factor, the source's bitrate and
//! the age of each variant's newest HLS segment. Streams are labelled by their id (minted by the
//! server), not their mount (made from a title).

use super::family::label_set;
use std::fmt::Write;
use veza_actors::stream::LiveInfo;

/// What one live session on this node said about itself.
pub struct LiveStream {
    pub info: LiveInfo,
}

impl LiveStream {
    fn id(&self) -> String {
        self.info.stream_id.0.to_string()
    }
}

/// Writes the stream families (each with its HELP and TYPE even when nothing is live).
pub fn render(out: &mut String, streams: &[LiveStream]) {
    header(
        out,
        "veza_stream_listeners",
        "Listeners of a live stream on this node, by variant (a rung, or hls).",
    );
    for s in streams {
        for v in &s.info.variants {
            sample(
                out,
                "veza_stream_listeners",
                &s.id(),
                Some(&v.name),
                v.listeners as f64,
            );
        }
        let hls = s.info.hls_listeners as f64;
        sample(out, "veza_stream_listeners", &s.id(), Some("hls"), hls);
    }
    header(
        out,
        "veza_transcoder_realtime_factor",
        "Seconds of audio a rung encoded per second over the last 5 s (under 1: falling behind).",
    );
    for s in streams {
        for v in &s.info.variants {
            if let Some(rt) = v.realtime_factor {
                let labels = label_set(&["stream", "rung"], &[&s.id(), &v.name]);
                let _ = writeln!(out, "veza_transcoder_realtime_factor{labels} {rt}");
            }
        }
    }
    header(
        out,
        "veza_stream_ingest_bits_per_second",
        "Bitrate of a live stream's source as it arrives, over the last 5 s.",
    );
    for s in streams {
        let bps = s.info.ingest_bps as f64;
        sample(
            out,
            "veza_stream_ingest_bits_per_second",
            &s.id(),
            None,
            bps,
        );
    }
    header(
        out,
        "veza_hls_segment_age_seconds",
        "Seconds since a variant's newest HLS segment was written (grows when segmenting stalls).",
    );
    for s in streams {
        for v in &s.info.variants {
            if let Some(age) = v.segment_age_s {
                sample(
                    out,
                    "veza_hls_segment_age_seconds",
                    &s.id(),
                    Some(&v.name),
                    age,
                );
            }
        }
    }
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn sample(out: &mut String, name: &str, stream: &str, variant: Option<&str>, value: f64) {
    let labels = match variant {
        Some(v) => label_set(&["stream", "variant"], &[stream, v]),
        None => label_set(&["stream"], &[stream]),
    };
    let _ = writeln!(out, "{name}{labels} {value}");
}
