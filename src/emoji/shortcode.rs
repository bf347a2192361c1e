//! Shortcodes: what a valid one is, and finding `:shortcode:` tokens in text and reactions.

use thiserror::Error;

pub const MIN_CHARS: usize = 2;
pub const MAX_CHARS: usize = 32;

/// A shortcode that breaks the rules (2-32 of `a-z 0-9 _ + -`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a shortcode is {MIN_CHARS}-{MAX_CHARS} characters of a-z, 0-9, _, + and -")]
pub struct InvalidShortcode;

fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '+' | '-')
}

/// True for a shortcode as stored: lowercase, 2-32 allowed characters.
pub fn is_valid(code: &str) -> bool {
    (MIN_CHARS..=MAX_CHARS).contains(&code.len()) && code.chars().all(allowed)
}

/// A shortcode from a URL path: ASCII uppercase folded to lowercase, then checked.
pub fn normalize(raw: &str) -> Result<String, InvalidShortcode> {
    let code = raw.to_ascii_lowercase();
    if is_valid(&code) {
        Ok(code)
    } else {
        Err(InvalidShortcode)
    }
}

/// The shortcode of a reaction written `:code:`; `None` for any other emoji (a Unicode one).
pub fn of_reaction(emoji: &str) -> Option<&str> {
    let code = emoji.strip_prefix(':')?.strip_suffix(':')?;
    is_valid(code).then_some(code)
}

/// The shortcodes written `:code:` in `text`, in order (repeats included). A colon that closes a
/// token does not open the next one, so `:a1::b2:` is two tokens and `:a1:b2:` one.
pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let open = rest.find(':')?;
        let after = &rest[open + 1..];
        let close = after.find(':')?;
        let code = &after[..close];
        if is_valid(code) {
            rest = &after[close + 1..];
            return Some(code);
        }
        // Not a token: the closing colon may open one.
        rest = &after[close..];
    })
}

/// True if `text` may hold a token at all: two colons. Lets the hot path skip the scan.
pub fn may_contain(text: &str) -> bool {
    text.bytes().filter(|b| *b == b':').nth(1).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_are_short_lowercase_words() {
        assert_eq!(normalize("Party").as_deref(), Ok("party"));
        assert_eq!(normalize("thumbs_up+1-x").as_deref(), Ok("thumbs_up+1-x"));
        assert_eq!(normalize(&"a".repeat(32)).map(|s| s.len()), Ok(32));
        for bad in [
            "a",
            "",
            "has space",
            "émoji",
            "dot.dot",
            "colon:",
            &"a".repeat(33),
        ] {
            assert_eq!(normalize(bad), Err(InvalidShortcode), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_found_between_colons() {
        let found: Vec<_> =
            tokens("ship it :party: now :tada::ok: at 10:30:00 :x: :Big:").collect();
        assert_eq!(found, ["party", "tada", "ok", "30"]);
        assert_eq!(tokens(":a1:b2:").collect::<Vec<_>>(), ["a1"]);
        assert_eq!(tokens("a: :b c: :dd:").collect::<Vec<_>>(), ["dd"]);
        assert_eq!(tokens("no tokens here").count(), 0);
        assert_eq!(tokens("::::").count(), 0);
    }

    #[test]
    fn reactions_name_a_shortcode_only_when_wrapped_whole() {
        assert_eq!(of_reaction(":party:"), Some("party"));
        assert_eq!(of_reaction("👍"), None);
        assert_eq!(of_reaction(":party"), None);
        assert_eq!(of_reaction(":Party:"), None);
        assert_eq!(of_reaction("::"), None);
    }

    #[test]
    fn the_quick_check_needs_two_colons() {
        assert!(may_contain("a :b: c"));
        assert!(!may_contain("one: colon"));
    }
}
