//! `veza-transcode FILE LADDER`: runs Veza's live transcoding path (symphonia decode once, one LAME
//! transcoder thread per rung) over a file as fast as it goes, and prints the CPU seconds used.
//! `scripts/bench-audio.sh` runs it beside ffmpeg encoding the same ladder from the same file.

use std::sync::Arc;
use std::time::Instant;
use veza_actors::stream::{decode, encoders, ladder};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(ladder_text)) = (args.next(), args.next()) else {
        eprintln!("usage: veza-transcode FILE LADDER (e.g. mp3-64,mp3-128)");
        std::process::exit(2);
    };
    let ladder = ladder::parse_ladder(&ladder_text).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let extension = path.rsplit('.').next().unwrap_or("mp3").to_owned();
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let started = Instant::now();
    let cpu_start = cpu_seconds();
    let mut sinks = Vec::new();
    let mut threads = Vec::new();
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for variant in ladder.iter().copied().filter(ladder::Variant::supported) {
        let (tx, rx) = std::sync::mpsc::sync_channel(32);
        sinks.push(tx);
        let counter = bytes.clone();
        threads.push(std::thread::spawn(move || {
            let encoder = encoders::encoder_for(variant).expect("encoder");
            encoders::run(encoder, rx, |chunk, _header, _edge| {
                counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            })
            .expect("transcode");
        }));
    }
    let summary = decode::run(
        file,
        &extension,
        |block| {
            for sink in &sinks {
                let _gone = sink.send(block.clone());
            }
        },
        |_, _| {},
    )
    .expect("decode");
    drop(sinks);
    for t in threads {
        t.join().expect("transcoder thread");
    }
    let audio_s = summary.frames as f64 / summary.rate.max(1) as f64;
    println!(
        "{{\"audio_s\":{audio_s:.2},\"cpu_s\":{:.3},\"wall_s\":{:.3},\"bytes_out\":{}}}",
        cpu_seconds() - cpu_start,
        started.elapsed().as_secs_f64(),
        bytes.load(std::sync::atomic::Ordering::Relaxed)
    );
}
