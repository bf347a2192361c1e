//! An uploaded emoji image: its type sniffed from the magic bytes (never from `Content-Type`), its
//! header's size checked before anything is decoded, decoded under allocation limits (every frame
//! of a GIF or WebP animation; a PNG's default image), so a truncated or lying file is refused,
//! then shrunk to fit 128x128 if it is larger. At most a few uploads are decoded at once.

use ::image::codecs::gif::GifDecoder;
use ::image::codecs::webp::WebPDecoder;
use ::image::imageops::FilterType;
use ::image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use thiserror::Error;

/// Largest upload, in bytes (256 KiB).
pub const MAX_BYTES: usize = 256 * 1024;
/// Largest side of a stored emoji, in pixels.
pub const MAX_SIDE: u32 = 128;
/// Largest side an upload may declare: checked in the header before decoding (decompression
/// bombs). An emoji is shown at 128 px; 1024 leaves room for hand-made art.
pub const MAX_DECLARED_SIDE: u32 = 1024;
/// Most bytes the decoder may allocate at once (a few 1024x1024 RGBA buffers).
const MAX_ALLOC: u64 = 16 << 20;
/// Most pixels decoded over all frames of an animation, so a small file of many large frames
/// cannot keep a thread busy.
const MAX_TOTAL_PIXELS: u64 = 8 << 20;
/// Uploads decoded at once in the whole process; more are turned away (503) rather than queued,
/// so a burst of uploads costs bounded memory and CPU.
pub const MAX_AT_ONCE: usize = 4;

static DECODING: AtomicUsize = AtomicUsize::new(0);

/// A place among the [`MAX_AT_ONCE`] decoders, given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        let mut now = DECODING.load(Ordering::Acquire);
        loop {
            if now >= MAX_AT_ONCE {
                return None;
            }
            match DECODING.compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Slot),
                Err(seen) => now = seen,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        DECODING.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UploadError {
    #[error("the image is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("only PNG, GIF and WebP images are accepted (the type is read from the file itself)")]
    Unsupported,
    #[error("the image declares {0}x{1} pixels; at most {MAX_DECLARED_SIDE}x{MAX_DECLARED_SIDE}")]
    TooManyPixels(u32, u32),
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
    #[error("too many images are being checked right now; retry in a moment")]
    Busy,
}

/// The formats an emoji may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Gif,
    WebP,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Gif => "image/gif",
            Kind::WebP => "image/webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Kind::Png => ImageFormat::Png,
            Kind::Gif => ImageFormat::Gif,
            Kind::WebP => ImageFormat::WebP,
        }
    }
}

/// The format the file's first bytes announce, if it is one we take.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Kind::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Kind::WebP)
    } else {
        None
    }
}

/// An image ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECLARED_SIDE);
    limits.max_image_height = Some(MAX_DECLARED_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn undecodable(e: impl std::fmt::Display) -> UploadError {
    UploadError::Undecodable(e.to_string())
}

/// Checks an upload and makes it fit: an image within 128x128 is kept byte for byte (an animated
/// GIF stays animated); a larger one is resized, keeping its aspect ratio, and stored as PNG (an
/// animation then keeps its first frame). Blocking and CPU-bound: call it off the async threads.
pub fn prepare(raw: Vec<u8>) -> Result<Prepared, UploadError> {
    if raw.len() > MAX_BYTES {
        return Err(UploadError::TooLarge);
    }
    let kind = sniff(&raw).ok_or(UploadError::Unsupported)?;
    let _slot = Slot::take().ok_or(UploadError::Busy)?;
    let (width, height) = ImageReader::with_format(Cursor::new(&raw), kind.format())
        .into_dimensions()
        .map_err(undecodable)?;
    if width > MAX_DECLARED_SIDE || height > MAX_DECLARED_SIDE {
        return Err(UploadError::TooManyPixels(width, height));
    }
    if width == 0 || height == 0 {
        return Err(UploadError::Undecodable("the image is empty".into()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(&raw), kind.format());
    reader.limits(limits());
    let first = reader.decode().map_err(undecodable)?;
    check_every_frame(&raw, kind)?;
    if width <= MAX_SIDE && height <= MAX_SIDE {
        return Ok(Prepared {
            bytes: raw,
            content_type: kind.content_type(),
            width,
            height,
        });
    }
    shrink(&first)
}

/// Decodes every frame of an animation (a still image was decoded whole already), so a file cut
/// off after its first frame is refused too.
fn check_every_frame(raw: &[u8], kind: Kind) -> Result<(), UploadError> {
    let frames = match kind {
        Kind::Png => return Ok(()),
        Kind::Gif => {
            let mut decoder = GifDecoder::new(Cursor::new(raw)).map_err(undecodable)?;
            decoder.set_limits(limits()).map_err(undecodable)?;
            decoder.into_frames()
        }
        Kind::WebP => {
            let mut decoder = WebPDecoder::new(Cursor::new(raw)).map_err(undecodable)?;
            if !decoder.has_animation() {
                return Ok(());
            }
            decoder.set_limits(limits()).map_err(undecodable)?;
            decoder.into_frames()
        }
    };
    let mut pixels = 0u64;
    for frame in frames {
        let frame = frame.map_err(undecodable)?;
        let (w, h) = frame.buffer().dimensions();
        pixels += u64::from(w) * u64::from(h);
        if pixels > MAX_TOTAL_PIXELS {
            return Err(UploadError::Undecodable(
                "the animation has too many frames for its size".into(),
            ));
        }
    }
    Ok(())
}

/// The image resized to fit 128x128 (aspect ratio kept), as PNG.
fn shrink(image: &DynamicImage) -> Result<Prepared, UploadError> {
    let small = image.resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3);
    let mut bytes = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(undecodable)?;
    Ok(Prepared {
        bytes,
        content_type: Kind::Png.content_type(),
        width: small.width(),
        height: small.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{Rgba, RgbaImage};

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let img = RgbaImage::from_fn(width, height, |x, y| Rgba([x as u8, y as u8, 200, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut out), format)
            .expect("encode");
        out
    }

    #[test]
    fn the_type_comes_from_the_magic_bytes() {
        assert_eq!(sniff(&encoded(4, 4, ImageFormat::Png)), Some(Kind::Png));
        assert_eq!(sniff(&encoded(4, 4, ImageFormat::Gif)), Some(Kind::Gif));
        assert_eq!(sniff(&encoded(4, 4, ImageFormat::WebP)), Some(Kind::WebP));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), None, "JPEG");
        assert_eq!(sniff(b"just text, named party.png"), None);
        assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WAVE"), None);
        assert_eq!(
            prepare(b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec()),
            Err(UploadError::Unsupported)
        );
    }

    #[test]
    fn a_large_image_is_shrunk_to_fit_keeping_its_shape() {
        let out = prepare(encoded(300, 200, ImageFormat::Png)).expect("prepared");
        assert_eq!(
            (out.width, out.height, out.content_type),
            (128, 85, "image/png")
        );
        let back = ::image::load_from_memory_with_format(&out.bytes, ImageFormat::Png).unwrap();
        assert_eq!((back.width(), back.height()), (128, 85));
        let tall = prepare(encoded(50, 400, ImageFormat::Gif)).expect("prepared");
        assert_eq!(
            (tall.width, tall.height, tall.content_type),
            (16, 128, "image/png")
        );
    }

    #[test]
    fn a_small_image_is_kept_byte_for_byte() {
        for (format, kind) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let raw = encoded(64, 32, format);
            let out = prepare(raw.clone()).expect("prepared");
            assert_eq!((out.width, out.height, out.content_type), (64, 32, kind));
            assert_eq!(out.bytes, raw);
        }
    }

    #[test]
    fn truncated_oversized_and_bomb_files_are_refused() {
        let png = encoded(100, 100, ImageFormat::Png);
        let cut = png[..png.len() / 2].to_vec();
        assert!(matches!(prepare(cut), Err(UploadError::Undecodable(_))));
        let gif = encoded(100, 100, ImageFormat::Gif);
        let cut = gif[..gif.len() - 40].to_vec();
        assert!(matches!(prepare(cut), Err(UploadError::Undecodable(_))));
        assert_eq!(prepare(vec![0; MAX_BYTES + 1]), Err(UploadError::TooLarge));
        // A GIF whose header claims 20000x20000 pixels: refused before any pixel is decoded.
        let mut bomb = encoded(1, 1, ImageFormat::Gif);
        bomb[6..8].copy_from_slice(&20_000u16.to_le_bytes());
        bomb[8..10].copy_from_slice(&20_000u16.to_le_bytes());
        assert_eq!(
            prepare(bomb),
            Err(UploadError::TooManyPixels(20_000, 20_000))
        );
        // A real image past the declared-size cap, however small its file.
        assert_eq!(
            prepare(encoded(MAX_DECLARED_SIDE + 1, 4, ImageFormat::Png)),
            Err(UploadError::TooManyPixels(MAX_DECLARED_SIDE + 1, 4))
        );
    }

    #[test]
    fn only_a_few_uploads_are_decoded_at_once() {
        let held: Vec<Slot> = std::iter::from_fn(Slot::take)
            .take(MAX_AT_ONCE + 1)
            .collect();
        assert_eq!(held.len(), MAX_AT_ONCE);
        assert_eq!(
            prepare(encoded(4, 4, ImageFormat::Png)),
            Err(UploadError::Busy)
        );
        drop(held);
        assert!(prepare(encoded(4, 4, ImageFormat::Png)).is_ok());
    }
}
