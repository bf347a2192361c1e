//! The `Transcoder` actor: one per variant, on a thread of its own (never an async arbiter). Its
//! mailbox is a bounded channel of PCM blocks from the decoder (a full mailbox slows the decoder,
//! and so the ingest socket: backpressure instead of unbounded queues); it owns its encoder, the
//! variant's HLS segmenter and, for the best MP3 variant, the recording's archive, and talks to
//! the `StreamSession` only by messages (`Encoded`, `Segmented`, `TranscoderDone`). actix's
//! `SyncArbiter` is not used here: its mailbox is unbounded and forwards through the system
//! arbiter, which would take the backpressure away.

use super::hls::{HlsConfig, Segmenter};
use super::ladder::Variant;
use super::transcoder::{self, EncodeError, Encoder};
use super::{Encoded, Segmented, StreamSession, TranscoderDone};
use crate::stream::decode::PcmBlock;
use actix::Addr;
use bytes::{Bytes, BytesMut};
use slog::{warn, Logger};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// How much audio is gathered before it goes to listeners: five writes a second per listener
/// instead of one per encoder call (an MP3 frame is 26 ms).
const COALESCE_SECONDS: f64 = 0.2;

pub(super) struct TranscoderParams {
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

pub(super) struct Transcoder {
    hub: usize,
    variant: Variant,
    session: Addr<StreamSession>,
    encoder: Box<dyn Encoder>,
    segmenter: Option<Segmenter>,
    archive: Option<BufWriter<File>>,
    /// Encoded bytes not yet sent to the session, and the stream time they reach.
    pending: BytesMut,
    pending_since: f64,
    /// Seconds of input encoded so far (the variant's live edge).
    consumed: f64,
    out: Vec<u8>,
    log: Logger,
}

impl Transcoder {
    /// Starts the actor's thread; it runs until the decoder drops the mailbox's sender.
    pub(super) fn spawn(
        params: TranscoderParams,
        mailbox: Receiver<Arc<PcmBlock>>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("transcode-{}", params.variant))
            .spawn(move || {
                let session = params.session.clone();
                let (variant, log) = (params.variant, params.log.clone());
                match Transcoder::new(params) {
                    Ok(actor) => actor.run(mailbox),
                    Err(e) => {
                        warn!(log, "transcoder could not start"; "variant" => variant.to_string(), "error" => e.to_string());
                        session.do_send(TranscoderDone);
                    }
                }
            })
    }

    fn new(params: TranscoderParams) -> Result<Self, EncodeError> {
        let TranscoderParams {
            hub,
            variant,
            session,
            hls,
            mount,
            started_wall_ms,
            archive,
            log,
        } = params;
        let encoder = transcoder::encoder_for(variant)?;
        let archive = archive.and_then(|path| {
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|e| warn!(log, "not archiving this broadcast"; "file" => path.display().to_string(), "error" => e.to_string()))
                .ok()
        });
        let segmenter = hls.and_then(|config| {
            Segmenter::new(&config, &mount, variant, started_wall_ms)
                .map_err(|e| warn!(log, "HLS off for this variant"; "variant" => variant.to_string(), "error" => e.to_string()))
                .ok()
        });
        Ok(Self {
            hub,
            variant,
            session,
            encoder,
            segmenter,
            archive,
            pending: BytesMut::new(),
            pending_since: 0.0,
            consumed: 0.0,
            out: Vec::with_capacity(16 * 1024),
            log,
        })
    }

    fn run(mut self, mailbox: Receiver<Arc<PcmBlock>>) {
        self.started();
        let mut result = Ok(());
        while let Ok(block) = mailbox.recv() {
            result = self.handle(&block);
            if result.is_err() {
                break;
            }
        }
        if let Err(e) = &result {
            warn!(self.log, "transcoder stopped"; "variant" => self.variant.to_string(), "error" => e.to_string());
        }
        self.stopped();
    }

    /// Ogg's header pages go to the session first: every new listener needs them.
    fn started(&mut self) {
        if let Some(header) = self.encoder.header() {
            self.session.do_send(Encoded {
                hub: self.hub,
                data: header,
                header: true,
                edge: 0.0,
            });
        }
    }

    fn handle(&mut self, block: &PcmBlock) -> Result<(), EncodeError> {
        self.encoder.encode(block, &mut self.out)?;
        self.consumed += (block.samples.len() / 2) as f64 / f64::from(block.rate.max(1));
        self.emit(false);
        Ok(())
    }

    /// Hands what the encoder produced to HLS, the archive and (coalesced) the listeners.
    fn emit(&mut self, last: bool) {
        if !self.out.is_empty() {
            let data = std::mem::take(&mut self.out);
            self.segment(&data);
            self.archive(&data);
            self.pending.extend_from_slice(&data);
            self.out = data;
            self.out.clear();
        }
        let due = self.consumed - self.pending_since >= COALESCE_SECONDS;
        if !self.pending.is_empty() && (due || last) {
            self.pending_since = self.consumed;
            self.session.do_send(Encoded {
                hub: self.hub,
                data: self.pending.split().freeze(),
                header: false,
                edge: self.consumed,
            });
        }
    }

    fn segment(&mut self, data: &[u8]) {
        let Some(s) = self.segmenter.as_mut() else {
            return;
        };
        match s.push(data) {
            Ok(done) => {
                for segment in done {
                    let playlist = Bytes::from(s.playlist(false));
                    self.session.do_send(Segmented {
                        hub: self.hub,
                        segment,
                        playlist,
                    });
                }
            }
            Err(e) => {
                // A full or read-only disk stops HLS for this variant, not the broadcast.
                warn!(self.log, "HLS segment write failed; HLS off for this variant"; "variant" => self.variant.to_string(), "error" => e.to_string());
                self.segmenter = None;
            }
        }
    }

    fn archive(&mut self, data: &[u8]) {
        if let Some(Err(e)) = self.archive.as_mut().map(|f| f.write_all(data)) {
            warn!(self.log, "archive write failed; the recording stops here"; "error" => e.to_string());
            self.archive = None;
        }
    }

    /// The input ended: flush the encoder, the last piece, the archive and the final playlist,
    /// then tell the session this variant is done.
    fn stopped(&mut self) {
        if let Err(e) = self.encoder.finish(&mut self.out) {
            warn!(self.log, "encoder flush failed"; "variant" => self.variant.to_string(), "error" => e.to_string());
        }
        self.emit(true);
        if let Some(Err(e)) = self.archive.take().map(|mut f| f.flush()) {
            warn!(self.log, "archive flush failed"; "error" => e.to_string());
        }
        if let Some(s) = self.segmenter.as_mut() {
            match s.finish() {
                Ok(Some(last)) => self.session.do_send(Segmented {
                    hub: self.hub,
                    segment: last,
                    playlist: Bytes::from(s.playlist(true)),
                }),
                Ok(None) => {}
                Err(e) => {
                    warn!(self.log, "could not write the final HLS playlist"; "error" => e.to_string())
                }
            }
        }
        self.session.do_send(TranscoderDone);
    }
}
