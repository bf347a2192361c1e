//! Rung supervision under a real broadcast: real audio through the real decoder, effects chain,
//! encoders and session; one rung's encoder is made to panic (a real panic, unwound and caught at
//! the rung's boundary) half-way through.

use super::decode::{self, PcmBlock};
use super::ladder::{parse_ladder, Variant};
use super::{
    effects, encoders, BroadcastEnded, Listen, Listening, NotifyRoom, PanicRung, SessionParams,
    StreamConfig, StreamSession,
};
use crate::ids::StreamId;
use actix::prelude::*;
use bytes::Bytes;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

const RATE: u32 = 44_100;
const SECONDS: usize = 8;

/// 16-bit stereo WAV of two tones that drift against each other (no two blocks alike).
fn wav() -> Vec<u8> {
    let frames = RATE as usize * SECONDS;
    let data_len = (frames * 4) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = i as f32 / RATE as f32;
        let left = (t * 440.0 * std::f32::consts::TAU).sin() * 0.4;
        let right = (t * (660.0 + 40.0 * t) * std::f32::consts::TAU).sin() * 0.3;
        for s in [left, right] {
            out.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
        }
    }
    out
}

/// The variant's bytes for `wav` from one uninterrupted encoder (what a listener must hear), fed
/// the blocks a rung gets: the decoder's blocks gathered to `GATHER_FRAMES`.
fn reference(wav: &[u8], variant: Variant) -> Vec<u8> {
    let mut encoder = encoders::encoder_for(variant).unwrap();
    let mut out = encoder.header().map(|h| h.to_vec()).unwrap_or_default();
    let mut gathered = PcmBlock {
        rate: 0,
        samples: Vec::new(),
    };
    decode::each_block(
        std::io::Cursor::new(wav.to_vec()),
        "wav",
        |rate, samples| {
            gathered.rate = rate;
            gathered.samples.extend_from_slice(&samples);
            if gathered.samples.len() >= super::transcoder::GATHER_FRAMES * 2 {
                encoder.encode(&gathered, &mut out).unwrap();
                gathered.samples.clear();
            }
        },
    )
    .unwrap();
    if !gathered.samples.is_empty() {
        encoder.encode(&gathered, &mut out).unwrap();
    }
    encoder.finish(&mut out).unwrap();
    out
}

#[actix_rt::test]
async fn an_encoder_that_keeps_panicking_ends_its_variant_only() {
    let ladder = parse_ladder("mp3-64,mp3-128,opus-96").unwrap();
    let (faulty, steady_mp3, steady_opus) = (ladder[0], ladder[1], ladder[2]);
    let air = on_air(&ladder).await;
    let restarts_before = restarts(faulty);
    let wav = wav();
    let (first, rest) = wav.split_at(wav.len() * 3 / 8);
    air.send(first).await;
    until("audio on every rung", || {
        air.heard.iter().all(|h| h.borrow().len() > 4096)
    })
    .await;
    // Every block panics from now on, whatever the restarts.
    let panic = PanicRung {
        variant: faulty,
        blocks: u32::MAX,
    };
    assert!(air.session.send(panic).await.unwrap());
    let (middle, last) = rest.split_at(rest.len() / 2);
    air.send(middle).await;
    // The rung gives up: its listener's response ends while the broadcast goes on, and a new
    // listener of that variant is refused; the other variants are still there.
    until("the faulty variant's listener to end", || {
        Rc::strong_count(&air.heard[0]) == 1
    })
    .await;
    assert!(air.session.send(Listen(faulty)).await.unwrap().is_none());
    assert!(air
        .session
        .send(Listen(steady_mp3))
        .await
        .unwrap()
        .is_some());
    air.send(last).await;
    let heard = air.end().await;

    assert_eq!(
        restarts(faulty) - restarts_before,
        super::transcoder::MAX_RESTARTS as u64 - 1,
        "restarted until the limit, then not again"
    );
    heard_everything(&heard, &wav, &[(1, steady_mp3), (2, steady_opus)]);
}

/// Seconds of audio in an MP3 stream, by decoding it.
fn mp3_seconds(bytes: &[u8]) -> f64 {
    let summary = decode::each_block(std::io::Cursor::new(bytes.to_vec()), "mp3", |_, _| {})
        .expect("the listener's MP3 decodes");
    summary.frames as f64 / f64::from(summary.rate.max(1))
}

/// Stands in for the registry: takes the session's end and room notices.
struct Registry {
    ended: Rc<RefCell<bool>>,
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<BroadcastEnded> for Registry {
    type Result = ();
    fn handle(&mut self, _: BroadcastEnded, _: &mut Context<Self>) {
        *self.ended.borrow_mut() = true;
    }
}

impl Handler<NotifyRoom> for Registry {
    type Result = ();
    fn handle(&mut self, _: NotifyRoom, _: &mut Context<Self>) {}
}

/// Collects everything a listener of `variant` receives, until the broadcast ends.
fn collect(listening: Listening) -> Rc<RefCell<Vec<u8>>> {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let into = heard.clone();
    let Listening {
        burst, mut live, ..
    } = listening;
    actix_rt::spawn(async move {
        for chunk in burst {
            into.borrow_mut().extend_from_slice(&chunk);
        }
        loop {
            match live.recv().await {
                Ok(chunk) => into.borrow_mut().extend_from_slice(&chunk),
                Err(RecvError::Lagged(n)) => panic!("the test listener lagged by {n} chunks"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    heard
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A broadcast of `ladder` with a listener on every rung from the start.
struct OnAir {
    started: super::Started,
    session: Addr<StreamSession>,
    ended: Rc<RefCell<bool>>,
    /// What each rung's listener heard, in ladder order.
    heard: Vec<Rc<RefCell<Vec<u8>>>>,
}

async fn on_air(ladder: &[Variant]) -> OnAir {
    let config = Arc::new(StreamConfig {
        ladder: ladder.to_vec(),
        listener_queue: 100_000,
        ..StreamConfig::default()
    });
    let ended = Rc::new(RefCell::new(false));
    let registry = Registry {
        ended: ended.clone(),
    }
    .start();
    let started = StreamSession::start(
        SessionParams {
            stream_id: StreamId(1),
            room: None,
            mount: "rungs".into(),
            title: "rungs".into(),
            extension: "wav",
            effects: effects::EffectsSpec::default(),
        },
        config,
        registry.clone().recipient(),
        registry.recipient(),
        slog::Logger::root(slog::Discard, slog::o!()),
    );
    let session = started.session.clone();
    // Listen from the start (the Opus rung's header pages are there as soon as it runs).
    let mut heard = Vec::new();
    for variant in ladder {
        let mut listening = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while listening.is_none() {
            let l = session.send(Listen(*variant)).await.unwrap().unwrap();
            if variant.codec != super::ladder::Codec::Opus || !l.burst.is_empty() {
                listening = Some(l);
            } else {
                assert!(Instant::now() < deadline, "no Ogg header from {variant}");
                actix_rt::time::sleep(Duration::from_millis(10)).await;
            }
        }
        heard.push(collect(listening.unwrap()));
    }
    OnAir {
        started,
        session,
        ended,
        heard,
    }
}

impl OnAir {
    async fn send(&self, input: &[u8]) {
        for chunk in input.chunks(4096) {
            let chunk = Bytes::copy_from_slice(chunk);
            self.started.input.send(chunk).await.unwrap();
        }
    }

    /// Ends the input and waits for the broadcast's end and its listeners' last chunk.
    async fn end(self) -> Vec<Rc<RefCell<Vec<u8>>>> {
        drop(self.started);
        until("the broadcast's end", || *self.ended.borrow()).await;
        // The listeners' tasks drain what the closed channels still hold.
        until("the listeners' end", || {
            self.heard.iter().all(|h| Rc::strong_count(h) == 1)
        })
        .await;
        self.heard
    }
}

fn restarts(variant: Variant) -> u64 {
    crate::metrics::metrics()
        .transcoder_restarts
        .with(&[&variant.to_string()])
        .get()
}

/// The rungs that did not fail: byte for byte what one uninterrupted encoder makes.
fn heard_everything(heard: &[Rc<RefCell<Vec<u8>>>], wav: &[u8], steady: &[(usize, Variant)]) {
    for &(index, variant) in steady {
        let got = heard[index].borrow();
        let want = reference(wav, variant);
        assert!(
            *got == want,
            "{variant}: {} bytes heard, {} expected from an uninterrupted encode",
            got.len(),
            want.len()
        );
    }
}

#[actix_rt::test]
async fn a_panicking_encoder_restarts_its_rung_only_and_the_other_rungs_lose_nothing() {
    let ladder = parse_ladder("mp3-64,mp3-128,opus-96").unwrap();
    let (faulty, steady_mp3, steady_opus) = (ladder[0], ladder[1], ladder[2]);
    let air = on_air(&ladder).await;
    let restarts_before = restarts(faulty);

    let wav = wav();
    let (first, rest) = wav.split_at(wav.len() * 3 / 8);
    air.send(first).await;
    // Mid-broadcast: every rung has sent audio to its listeners.
    until("audio on every rung", || {
        air.heard.iter().all(|h| h.borrow().len() > 4096)
    })
    .await;
    let before_panic = air.heard[0].borrow().len();
    let panic = PanicRung {
        variant: faulty,
        blocks: 1,
    };
    assert!(air.session.send(panic).await.unwrap());
    air.send(rest).await;
    let heard = air.end().await;

    assert_eq!(restarts(faulty) - restarts_before, 1, "one restart counted");
    heard_everything(&heard, &wav, &[(1, steady_mp3), (2, steady_opus)]);
    // The failed rung: a short glitch, then audio again to the end.
    let faulty_heard = heard[0].borrow();
    let after_panic = faulty_heard.len() - before_panic;
    let seconds = mp3_seconds(&faulty_heard);
    let full = mp3_seconds(&reference(&wav, faulty));
    assert!(
        after_panic > 64_000 / 8 * 2,
        "{faulty} resumed: {after_panic} bytes after the panic"
    );
    assert!(
        (seconds - full).abs() < 0.5,
        "{faulty}: {seconds:.3} s heard of {full:.3} s (a lost block and a fresh encoder's delay)"
    );
}
