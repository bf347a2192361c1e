//! An upload's type, read from its first bytes: what the client declared is never trusted. Only
//! PNG, JPEG, GIF and WebP are shown inline (images a browser decodes, never runs); everything
//! else is served as an attachment. Markup (HTML, SVG, XML) and anything unrecognised become
//! `application/octet-stream`, so no upload can become a page or a script on our origin.

/// How many leading bytes [`sniff`] looks at (the text check needs a sample, not a header).
pub const SAMPLE_BYTES: usize = 8192;

/// A type read from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub content_type: &'static str,
    /// Served inline (`Content-Disposition: inline`): the four image types alone.
    pub inline: bool,
}

pub const OCTET_STREAM: &str = "application/octet-stream";
pub const TEXT: &str = "text/plain; charset=utf-8";

const fn image(content_type: &'static str) -> Sniffed {
    Sniffed {
        content_type,
        inline: true,
    }
}

const fn attachment(content_type: &'static str) -> Sniffed {
    Sniffed {
        content_type,
        inline: false,
    }
}

/// Whether a stored content type is one of the inline images (for rows read back).
pub fn is_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The type of a file from its first bytes (`head`: up to [`SAMPLE_BYTES`]; `complete`: `head` is
/// the whole file, so a UTF-8 sequence cut at its end is not excused).
pub fn sniff(head: &[u8], complete: bool) -> Sniffed {
    let at = |range: std::ops::Range<usize>| head.get(range);
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        image("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        image("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        image("image/gif")
    } else if head.starts_with(b"RIFF") && at(8..12) == Some(b"WEBP") {
        image("image/webp")
    } else if head.starts_with(b"RIFF") && at(8..12) == Some(b"WAVE") {
        attachment("audio/wav")
    } else if head.starts_with(b"%PDF-") {
        attachment("application/pdf")
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        attachment("application/zip")
    } else if head.starts_with(b"OggS") {
        attachment("audio/ogg")
    } else if at(4..8) == Some(b"ftyp") {
        attachment("video/mp4")
    } else if head.starts_with(b"ID3") || is_mpeg_audio_frame(head) {
        attachment("audio/mpeg")
    } else if is_plain_text(head, complete) {
        attachment(TEXT)
    } else {
        attachment(OCTET_STREAM)
    }
}

/// An MPEG audio frame header: 11 sync bits, a valid version, layer III, a bitrate index that is
/// neither free nor bad, a valid sample rate.
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    let [a, b, c, ..] = head else {
        return false;
    };
    let sync = *a == 0xff && b & 0xe0 == 0xe0;
    let version_ok = (b >> 3) & 0b11 != 0b01;
    let layer3 = (b >> 1) & 0b11 == 0b01;
    let bitrate = c >> 4;
    let rate_ok = bitrate != 0 && bitrate != 0xf && (c >> 2) & 0b11 != 0b11;
    sync && version_ok && layer3 && rate_ok
}

/// UTF-8 without control characters (tabs, newlines, form feeds aside) that does not open with
/// markup: `<` first (after a BOM and white space) is HTML, SVG or XML to a browser's sniffer,
/// so it is not called text.
fn is_plain_text(head: &[u8], complete: bool) -> bool {
    if head.is_empty() {
        return false;
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A sample cut inside a character: the part before it must be valid.
        Err(e) if !complete && e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            match std::str::from_utf8(&head[..e.valid_up_to()]) {
                Ok(t) => t,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    let controls = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'));
    let opening = text.trim_start_matches('\u{feff}').trim_start();
    !controls && !opening.starts_with('<')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(bytes: &[u8]) -> &'static str {
        sniff(bytes, true).content_type
    }

    #[test]
    fn each_known_type_is_read_from_its_magic_bytes() {
        assert_eq!(ty(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(ty(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), "image/jpeg");
        assert_eq!(ty(b"GIF89a\x01\0\x01\0"), "image/gif");
        assert_eq!(ty(b"RIFF\x10\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(ty(b"RIFF\x10\0\0\0WAVEfmt "), "audio/wav");
        assert_eq!(ty(b"%PDF-1.7\n%\xe2\xe3"), "application/pdf");
        assert_eq!(ty(b"PK\x03\x04\x14\0"), "application/zip");
        assert_eq!(ty(b"OggS\0\x02"), "audio/ogg");
        assert_eq!(ty(b"\0\0\0\x18ftypmp42"), "video/mp4");
        assert_eq!(ty(b"ID3\x04\0\0"), "audio/mpeg");
        assert_eq!(ty(&[0xff, 0xfb, 0x90, 0x64]), "audio/mpeg");
        assert_eq!(ty("plain words, é and 😀\n".as_bytes()), TEXT);
        assert_eq!(ty(b"\0\x01\x02binary"), OCTET_STREAM);
        assert_eq!(ty(b""), OCTET_STREAM);
    }

    #[test]
    fn only_images_are_inline() {
        for inline in [&b"\x89PNG\r\n\x1a\n"[..], b"\xff\xd8\xff", b"GIF87a"] {
            assert!(sniff(inline, true).inline);
        }
        for other in [&b"%PDF-1.4"[..], b"hello", b"PK\x03\x04", b"<html>"] {
            assert!(!sniff(other, true).inline);
        }
        assert!(is_inline("image/webp") && !is_inline("image/svg+xml"));
    }

    #[test]
    fn markup_is_never_text_or_an_image() {
        for markup in [
            &b"<!DOCTYPE html><script>alert(1)</script>"[..],
            b"  <html><body>hi",
            b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            b"<?xml version='1.0'?><svg/>",
            b"\n\t<script>fetch('/api')</script>",
        ] {
            assert_eq!(sniff(markup, true), attachment(OCTET_STREAM));
        }
    }

    #[test]
    fn a_sample_cut_inside_a_character_is_still_text() {
        let text = "ab😀".as_bytes();
        assert_eq!(sniff(&text[..4], false).content_type, TEXT);
        assert_eq!(sniff(&text[..4], true).content_type, OCTET_STREAM);
        assert_eq!(ty(b"ok\xff\xfe not utf-8"), OCTET_STREAM);
    }
}
