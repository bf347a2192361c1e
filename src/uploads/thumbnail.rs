//! Thumbnails of image uploads: the header's declared size is checked before anything is decoded
//! (decompression bombs), the image is decoded under `image::Limits`, shrunk to fit 320x320 and
//! stored as JPEG (PNG when it has transparency). Blocking and CPU-bound: run it on a blocking
//! thread, at most [`MAX_AT_ONCE`] at a time per process (the route waits for a place).

use super::storage::ThumbFormat;
use ::image::imageops::FilterType;
use ::image::{ImageFormat, ImageReader, Limits};
use std::io::{BufRead, Cursor, Seek};
use thiserror::Error;

/// Largest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 320;
/// Largest image decoded for a thumbnail: larger ones are stored and served, without one.
pub const MAX_DECLARED_PIXELS: u64 = 40_000_000;
/// Largest side an image may declare.
pub const MAX_DECLARED_SIDE: u32 = 16_384;
/// Most bytes the decoder may allocate (a 40-megapixel RGBA buffer and change).
const MAX_ALLOC: u64 = 200 << 20;
/// Thumbnails made at once in the process; more wait their turn.
pub const MAX_AT_ONCE: usize = 2;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ThumbnailError {
    #[error("not an image this server decodes")]
    NotAnImage,
    #[error("the image declares {0}x{1} pixels, too many to decode")]
    TooManyPixels(u32, u32),
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
}

/// A made thumbnail, and the full image's size.
#[derive(Debug)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub format: ThumbFormat,
    pub width: u32,
    pub height: u32,
    /// The original's size, from its header.
    pub original: (u32, u32),
}

fn format_of(content_type: &str) -> Option<ImageFormat> {
    Some(match content_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        _ => return None,
    })
}

fn undecodable(e: impl std::fmt::Display) -> ThumbnailError {
    ThumbnailError::Undecodable(e.to_string())
}

/// The declared size of an image of `content_type`, read from its header only.
pub fn dimensions(
    reader: impl BufRead + Seek,
    content_type: &str,
) -> Result<(u32, u32), ThumbnailError> {
    let format = format_of(content_type).ok_or(ThumbnailError::NotAnImage)?;
    ImageReader::with_format(reader, format)
        .into_dimensions()
        .map_err(undecodable)
}

/// Makes the thumbnail of an image read from `reader` (called twice: header, then pixels).
pub fn make<R: BufRead + Seek>(
    mut open: impl FnMut() -> std::io::Result<R>,
    content_type: &str,
) -> Result<Thumbnail, ThumbnailError> {
    let format = format_of(content_type).ok_or(ThumbnailError::NotAnImage)?;
    let (width, height) = dimensions(open().map_err(undecodable)?, content_type)?;
    if width == 0
        || height == 0
        || width > MAX_DECLARED_SIDE
        || height > MAX_DECLARED_SIDE
        || u64::from(width) * u64::from(height) > MAX_DECLARED_PIXELS
    {
        return Err(ThumbnailError::TooManyPixels(width, height));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECLARED_SIDE);
    limits.max_image_height = Some(MAX_DECLARED_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(open().map_err(undecodable)?, format);
    reader.limits(limits);
    let image = reader.decode().map_err(undecodable)?;
    let small = if width > MAX_SIDE || height > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle)
    } else {
        image
    };
    let (thumb_format, out) = if small.color().has_alpha() {
        (ThumbFormat::Png, ImageFormat::Png)
    } else {
        (ThumbFormat::Jpeg, ImageFormat::Jpeg)
    };
    let small = match thumb_format {
        // JPEG has no alpha and takes 8-bit RGB.
        ThumbFormat::Jpeg => ::image::DynamicImage::ImageRgb8(small.to_rgb8()),
        ThumbFormat::Png => small,
    };
    let mut bytes = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut bytes), out)
        .map_err(undecodable)?;
    Ok(Thumbnail {
        bytes,
        format: thumb_format,
        width: small.width(),
        height: small.height(),
        original: (width, height),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

    fn encoded(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), format)
            .expect("encode");
        out
    }

    fn open<'a>(bytes: &'a [u8]) -> impl FnMut() -> std::io::Result<Cursor<&'a [u8]>> + 'a {
        move || Ok(Cursor::new(bytes))
    }

    #[test]
    fn a_photo_gets_a_small_jpeg_and_a_transparent_image_a_png() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_fn(1000, 500, |x, y| {
            Rgb([x as u8, y as u8, 7])
        }));
        let jpeg = encoded(photo, ImageFormat::Jpeg);
        let thumb = make(open(&jpeg), "image/jpeg").expect("thumbnail");
        assert_eq!((thumb.width, thumb.height), (320, 160));
        assert_eq!(thumb.format, ThumbFormat::Jpeg);
        assert_eq!(thumb.original, (1000, 500));
        assert!(thumb.bytes.len() < jpeg.len());

        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let png = encoded(clear, ImageFormat::Png);
        let thumb = make(open(&png), "image/png").expect("thumbnail");
        assert_eq!(
            (thumb.width, thumb.height, thumb.format),
            (40, 30, ThumbFormat::Png)
        );
    }

    #[test]
    fn bombs_and_broken_files_get_no_thumbnail() {
        let gif = encoded(
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([0, 0, 0, 255]))),
            ImageFormat::Gif,
        );
        let mut bomb = gif.clone();
        bomb[6..8].copy_from_slice(&20_000u16.to_le_bytes());
        bomb[8..10].copy_from_slice(&20_000u16.to_le_bytes());
        assert_eq!(
            make(open(&bomb), "image/gif").unwrap_err(),
            ThumbnailError::TooManyPixels(20_000, 20_000)
        );
        let png = encoded(
            DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 100, Rgb([9, 9, 9]))),
            ImageFormat::Png,
        );
        let cut = &png[..png.len() / 2];
        assert!(matches!(
            make(open(cut), "image/png"),
            Err(ThumbnailError::Undecodable(_))
        ));
        assert_eq!(
            make(open(b"%PDF-1.4"), "application/pdf").unwrap_err(),
            ThumbnailError::NotAnImage
        );
    }
}
