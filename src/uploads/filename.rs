//! The name a download is offered under: the client's filename cleaned (it is only ever shown,
//! never used as a path: blobs are keyed by id), and the `Content-Disposition` built from it as
//! RFC 6266 asks: an ASCII `filename` fallback and the UTF-8 `filename*`.

use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};

/// Longest kept name, in characters (the extension is kept when a name is cut).
pub const MAX_CHARS: usize = 120;
/// The name of a file sent without one, or whose name cleans to nothing.
pub const FALLBACK: &str = "file";

/// The last path segment of `raw`, without control characters (NUL included), without the
/// characters file systems and headers choke on, without leading dots (no hidden or `..` names),
/// trimmed and cut to [`MAX_CHARS`] keeping the extension; [`FALLBACK`] if nothing is left.
pub fn sanitize(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | ':' | '*' | '?' | '<' | '>' | '|' | ';' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name = cut(trimmed);
    if name.is_empty() {
        FALLBACK.to_owned()
    } else {
        name
    }
}

fn cut(name: &str) -> String {
    if name.chars().count() <= MAX_CHARS {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.chars().count() <= 16);
    match ext {
        Some(ext) => {
            let keep = MAX_CHARS - ext.chars().count() - 1;
            let stem: String = name.chars().take(keep).collect();
            format!("{}.{ext}", stem.trim_end())
        }
        None => name.chars().take(MAX_CHARS).collect(),
    }
}

/// The cleaned name a form part was sent with: its RFC 5987 `filename*` when it has one (the
/// UTF-8 name), else `filename`, else [`FALLBACK`].
pub fn of_part(disposition: Option<&ContentDisposition>) -> String {
    let raw = disposition.and_then(|d| match d.get_filename_ext() {
        Some(ext) => Some(String::from_utf8_lossy(&ext.value).into_owned()),
        None => d.get_filename().map(str::to_owned),
    });
    sanitize(raw.as_deref().unwrap_or(FALLBACK))
}

/// `name` with everything outside printable ASCII replaced by `_`, for the `filename` parameter
/// that old clients read.
pub fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .map(|c| if c == '\\' { '_' } else { c })
        .collect()
}

/// `inline` or `attachment`, with both filename parameters.
pub fn disposition(name: &str, inline: bool) -> ContentDisposition {
    let name = sanitize(name);
    ContentDisposition {
        disposition: if inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: vec![
            DispositionParam::Filename(ascii_fallback(&name)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.into_bytes(),
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_hidden_names_lose_their_directories_and_dots() {
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("a/b"), "b");
        assert_eq!(sanitize("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(sanitize(".."), FALLBACK);
        assert_eq!(sanitize("../"), FALLBACK);
        assert_eq!(sanitize(".bashrc"), "bashrc");
        assert_eq!(sanitize(""), FALLBACK);
        assert_eq!(sanitize("   "), FALLBACK);
    }

    #[test]
    fn control_characters_and_header_breakers_are_removed() {
        assert_eq!(sanitize("evil\0.png"), "evil.png");
        assert_eq!(sanitize("a\r\nSet-Cookie: x.txt"), "aSet-Cookie_ x.txt");
        assert_eq!(sanitize("say \"hi\";.txt"), "say _hi__.txt");
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.jpeg", "x".repeat(5000));
        let out = sanitize(&long);
        assert_eq!(out.chars().count(), MAX_CHARS);
        assert!(out.ends_with("x.jpeg"), "{out}");
        let no_ext = "y".repeat(500);
        assert_eq!(sanitize(&no_ext).chars().count(), MAX_CHARS);
        let wide = "é".repeat(500);
        assert_eq!(sanitize(&wide).chars().count(), MAX_CHARS);
    }

    #[test]
    fn unicode_names_are_kept_and_encoded_for_the_header() {
        assert_eq!(sanitize("résumé 😀.pdf"), "résumé 😀.pdf");
        let header = disposition("résumé 😀.pdf", false).to_string();
        assert!(header.starts_with("attachment; "), "{header}");
        assert!(header.contains("filename=\"r_sum_ _.pdf\""), "{header}");
        assert!(
            header.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%98%80.pdf"),
            "{header}"
        );
        let inline = disposition("cat.png", true).to_string();
        assert!(
            inline.starts_with("inline; filename=\"cat.png\""),
            "{inline}"
        );
    }
}
