//! Issue 11 item 9: the live input decoders against random and hostile bytes (what a source on
//! the ingest port or the WebSocket ingest may send). Every input must end in `Ok` or a
//! `DecodeError`, never a panic, and the decoder's memory must stay bounded however long the
//! input is. Memory is measured with a counting allocator (nextest runs each test in its own
//! process, so the figures are this test's alone).

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use veza_actors::stream::decode::each_block;
use veza_actors::stream::ogg_opus_in::page_crc;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes allocated above what was live when `f` started.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// An endless input made of `unit` repeated, up to `total` bytes, never held in memory.
struct Repeat {
    unit: Vec<u8>,
    at: usize,
    left: usize,
}

impl Read for Repeat {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.left > 0 {
            out[n] = self.unit[self.at];
            self.at = (self.at + 1) % self.unit.len();
            self.left -= 1;
            n += 1;
        }
        Ok(n)
    }
}

fn repeat(head: Vec<u8>, unit: Vec<u8>, total: usize) -> impl Read + Send + Sync + 'static {
    std::io::Cursor::new(head).chain(Repeat {
        unit,
        at: 0,
        left: total,
    })
}

/// Writes a page's checksum (computed with the field zeroed, as Ogg says).
fn seal(mut page: Vec<u8>) -> Vec<u8> {
    page[22..26].copy_from_slice(&[0; 4]);
    let crc = page_crc(0, &page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// An Ogg page with `segments` lacing values of `lacing` (and that many zero bytes), sealed.
fn ogg_page(serial: u32, seq: u32, flags: u8, segments: u8, lacing: u8) -> Vec<u8> {
    let mut page = b"OggS".to_vec();
    page.push(0);
    page.push(flags);
    page.extend_from_slice(&[0; 8]);
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&seq.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(segments);
    page.extend(std::iter::repeat_n(lacing, segments as usize));
    page.extend(std::iter::repeat_n(
        0u8,
        segments as usize * lacing as usize,
    ));
    seal(page)
}

/// A first Ogg page that says "Opus", so the Opus reader takes the input.
fn opus_head_page() -> Vec<u8> {
    let mut page = b"OggS\0\x02".to_vec();
    page.extend_from_slice(&[0; 20]);
    page.push(1);
    page.push(19);
    page.extend_from_slice(b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0");
    seal(page)
}

const MIB: usize = 1024 * 1024;

fn run(input: impl Read + Send + Sync + 'static, extension: &str) {
    // The result is whatever it is; what matters is that it returns.
    let _ok_or_refused = each_block(input, extension, |_, _| {});
}

#[test]
fn an_ogg_packet_of_endless_255_lacing_is_refused_with_bounded_memory() {
    // 64 MiB of pages that each continue one packet (every lacing value 255).
    let unit = ogg_page(1, 0, 0x01, 255, 255);
    let input = repeat(opus_head_page(), unit, 64 * MIB);
    let peak = peak_during(|| run(input, "ogg"));
    assert!(
        peak < 4 * MIB,
        "peak {peak} bytes for a 64 MiB hostile packet"
    );
}

#[test]
fn oversized_packets_and_broken_pages_are_errors_not_silence() {
    let endless = repeat(opus_head_page(), ogg_page(1, 0, 0x01, 255, 255), 8 * MIB);
    let refused = each_block(endless, "ogg", |_, _| {});
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("64 KiB")),
        "{refused:?}"
    );
    let mut broken = ogg_page(1, 1, 0x00, 1, 10);
    broken[30] ^= 0xFF;
    let input = std::io::Cursor::new([opus_head_page(), broken].concat());
    let refused = each_block(input, "ogg", |_, _| {});
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("checksum")),
        "{refused:?}"
    );
}

#[test]
fn hostile_streams_of_every_kind_end_with_bounded_memory() {
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        // MP3 frame headers with no frame after them.
        ("mp3", Vec::new(), vec![0xFF, 0xFB, 0x90, 0x64]),
        // ADTS headers claiming the longest frame, filled with noise.
        (
            "aac",
            Vec::new(),
            [
                vec![0xFF, 0xF1, 0x50, 0x80, 0xFF, 0xFF, 0xFC],
                vec![0x5A; 8184],
            ]
            .concat(),
        ),
        // Ogg pages of an unknown codec, and pages that lost sync.
        ("ogg", Vec::new(), ogg_page(7, 0, 0x02, 255, 255)),
        ("ogg", opus_head_page(), b"OggX".repeat(1024)),
        // WAV and FLAC headers followed by noise.
        (
            "wav",
            b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec(),
            vec![0xAB; 4096],
        ),
        ("flac", b"fLaC".to_vec(), vec![0xFF; 4096]),
    ];
    for (extension, head, unit) in cases {
        let input = repeat(head, unit, 32 * MIB);
        let peak = peak_during(|| run(input, extension));
        assert!(peak < 16 * MIB, "{extension}: peak {peak} bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic_a_decoder(
        extension in prop::sample::select(vec!["mp3", "aac", "ogg", "wav", "flac"]),
        bytes in prop::collection::vec(any::<u8>(), 0..8192),
    ) {
        run(std::io::Cursor::new(bytes), extension);
    }

    #[test]
    fn random_bytes_after_a_valid_opus_head_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..8192),
    ) {
        run(std::io::Cursor::new([opus_head_page(), bytes].concat()), "ogg");
    }
}
