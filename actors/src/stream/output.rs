//! One variant's thread: encodes the PCM it is sent, hands the chunks to the session (progressive
//! listeners) and, for MP3/AAC, cuts them into HLS segments on disk. Never on an async arbiter.

use super::hls::{HlsConfig, Segmenter};
use super::ladder::Variant;
use super::{transcoder, Encoded, Segmented, StreamSession, TranscoderDone};
use crate::stream::decode::PcmBlock;
use actix::Addr;
use bytes::{Bytes, BytesMut};
use slog::{warn, Logger};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// How much audio is gathered before it goes to listeners.
const COALESCE_SECONDS: f64 = 0.2;

pub(super) struct OutputParams {
    pub hub: usize,
    pub variant: Variant,
    pub session: Addr<StreamSession>,
    pub hls: Option<HlsConfig>,
    pub mount: String,
    pub started_wall_ms: i64,
    /// Append everything encoded to this file (the recording's archive).
    pub archive: Option<PathBuf>,
    pub log: Logger,
}

pub(super) fn spawn(
    params: OutputParams,
    pcm: Receiver<Arc<PcmBlock>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("transcode-{}", params.variant))
        .spawn(move || run(params, pcm))
}

fn run(params: OutputParams, pcm: Receiver<Arc<PcmBlock>>) {
    let OutputParams {
        hub,
        variant,
        session,
        hls,
        mount,
        started_wall_ms,
        archive,
        log,
    } = params;
    let mut archive = archive.and_then(|path| {
        std::fs::File::create(&path)
            .map(std::io::BufWriter::new)
            .map_err(|e| warn!(log, "not archiving this broadcast"; "file" => path.display().to_string(), "error" => e.to_string()))
            .ok()
    });
    let mut segmenter = hls.and_then(|config| {
        Segmenter::new(&config, &mount, variant, started_wall_ms)
            .map_err(|e| warn!(log, "HLS off for this variant"; "variant" => variant.to_string(), "error" => e.to_string()))
            .ok()
    });
    let segment = |segmenter: &mut Option<Segmenter>, data: &[u8]| {
        let Some(s) = segmenter.as_mut() else { return };
        match s.push(data) {
            Ok(done) => {
                for segment in done {
                    let playlist = Bytes::from(s.playlist(false));
                    session.do_send(Segmented {
                        hub,
                        segment,
                        playlist,
                    });
                }
            }
            Err(e) => {
                // A full or read-only disk stops HLS for this variant, not the broadcast.
                warn!(log, "HLS segment write failed; HLS off for this variant"; "variant" => variant.to_string(), "error" => e.to_string());
                *segmenter = None;
            }
        }
    };
    // Listeners get the audio in pieces of ~COALESCE_SECONDS, not one per encoder call (an MP3
    // frame is 26 ms): five writes a second per listener instead of ~40.
    let mut pending = BytesMut::new();
    let mut pending_since = 0.0;
    let result = transcoder::encoder_for(variant).and_then(|encoder| {
        transcoder::run(encoder, pcm, |data, header, edge| {
            if !header {
                segment(&mut segmenter, &data);
                if let Some(file) = archive.as_mut() {
                    if let Err(e) = file.write_all(&data) {
                        warn!(log, "archive write failed; the recording stops here"; "error" => e.to_string());
                        archive = None;
                    }
                }
            }
            if header {
                session.do_send(Encoded {
                    hub,
                    data,
                    header,
                    edge,
                });
                return;
            }
            pending.extend_from_slice(&data);
            if edge - pending_since >= COALESCE_SECONDS {
                pending_since = edge;
                session.do_send(Encoded {
                    hub,
                    data: pending.split().freeze(),
                    header,
                    edge,
                });
            }
        })
    });
    if !pending.is_empty() {
        session.do_send(Encoded {
            hub,
            data: pending.split().freeze(),
            header: false,
            edge: pending_since,
        });
    }
    if let Some(Err(e)) = archive.as_mut().map(|f| f.flush()) {
        warn!(log, "archive flush failed"; "error" => e.to_string());
    }
    drop(archive);
    if let Err(e) = &result {
        warn!(log, "transcoder stopped"; "variant" => variant.to_string(), "error" => e.to_string());
    }
    if let Some(s) = segmenter.as_mut() {
        match s.finish() {
            Ok(Some(last)) => session.do_send(Segmented {
                hub,
                segment: last,
                playlist: Bytes::from(s.playlist(true)),
            }),
            Ok(None) => {}
            Err(e) => {
                warn!(log, "could not write the final HLS playlist"; "error" => e.to_string())
            }
        }
    }
    session.do_send(TranscoderDone);
}
