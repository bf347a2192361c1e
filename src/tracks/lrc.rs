//! LRC lyrics: `[mm:ss.xx]line` (several stamps on one line repeat it), `[offset:+/-ms]`, the
//! metadata tags (`[ar:..]`, `[ti:..]`, ...) read past, and enhanced LRC word timing
//! (`<mm:ss.xx>word`), parsed into [`Lyrics`]: lines in time order, times in milliseconds with the
//! offset applied, so a client and AutoDJ read them without knowing LRC. Malformed input is an
//! [`LrcError`] naming its line.

use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

/// Parsed lyrics: lines in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Lyrics {
    pub lines: Vec<Line>,
}

/// One timed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Line {
    /// When the line starts, in ms from the track's start (the file's `offset` applied).
    pub time_ms: i64,
    /// The line's text (word stamps removed); empty for a timed pause.
    pub text: String,
    /// Enhanced LRC: when each word starts (empty for a plain line).
    pub words: Vec<Word>,
}

/// One timed word of an enhanced LRC line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Word {
    pub time_ms: i64,
    pub text: String,
}

/// Why an LRC text was refused: its 1-based line number and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("LRC line {line}: {reason}")]
pub struct LrcError {
    pub line: usize,
    pub reason: String,
}

/// What a line's leading `[...]` tags turned out to be.
enum Head {
    /// Time stamps (ms), then the rest of the line.
    Stamps(Vec<i64>, String),
    /// `[offset:...]` in ms.
    Offset(i64),
    /// Another metadata tag (`[ar:...]`, `[length:...]`, ...): read past.
    Meta,
}

/// Parses an LRC (or enhanced LRC) text.
pub fn parse(text: &str) -> Result<Lyrics, LrcError> {
    let mut offset = 0i64;
    // (stamp, text, words with absolute times)
    let mut timed: Vec<(i64, String, Vec<Word>)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let fail = |reason: String| LrcError {
            line: number,
            reason,
        };
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        match head(line).map_err(fail)? {
            Head::Offset(ms) => offset = ms,
            Head::Meta => {}
            Head::Stamps(stamps, rest) => {
                let (text, words) = words(&rest).map_err(fail)?;
                for stamp in stamps {
                    timed.push((stamp, text.clone(), words.clone()));
                }
            }
        }
    }
    if timed.is_empty() {
        return Err(LrcError {
            line: text.lines().count().max(1),
            reason: "no timed line (`[mm:ss.xx]text`) in the lyrics".into(),
        });
    }
    let first_stamp = |words: &[Word], stamp: i64| words.first().map_or(stamp, |w| w.time_ms);
    let mut lines: Vec<Line> = timed
        .into_iter()
        .map(|(stamp, text, words)| {
            // A line repeated at several stamps carries its word timing along with it.
            let shift = stamp - first_stamp(&words, stamp).min(stamp);
            Line {
                time_ms: (stamp - offset).max(0),
                text,
                words: words
                    .into_iter()
                    .map(|w| Word {
                        time_ms: (w.time_ms + shift - offset).max(0),
                        text: w.text,
                    })
                    .collect(),
            }
        })
        .collect();
    lines.sort_by_key(|l| l.time_ms);
    Ok(Lyrics { lines })
}

/// Reads a line's leading bracket tags.
fn head(line: &str) -> Result<Head, String> {
    if !line.starts_with('[') {
        return Err("expected a time stamp like `[01:23.45]` or a tag like `[ar:...]`".into());
    }
    let mut stamps = Vec::new();
    let mut rest = line;
    while let Some(after) = rest.strip_prefix('[') {
        let end = after
            .find(']')
            .ok_or_else(|| "a `[` without its `]`".to_owned())?;
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with(|c: char| c.is_ascii_digit()) {
            stamps.push(time(tag)?);
            continue;
        }
        if !stamps.is_empty() {
            return Err(format!("`[{tag}]` after a time stamp is not a time stamp"));
        }
        let (key, value) = tag
            .split_once(':')
            .ok_or_else(|| format!("`[{tag}]` is neither a time stamp nor a `[key:value]` tag"))?;
        if key.trim().eq_ignore_ascii_case("offset") {
            let value = value.trim();
            let ms = value
                .strip_prefix('+')
                .unwrap_or(value)
                .parse::<i64>()
                .ok()
                .filter(|ms| ms.abs() <= 24 * 3_600_000)
                .ok_or_else(|| format!("`[offset:{value}]` is not a number of milliseconds"))?;
            return Ok(Head::Offset(ms));
        }
        return Ok(Head::Meta);
    }
    Ok(Head::Stamps(stamps, rest.to_owned()))
}

/// A time stamp's milliseconds: `mm:ss`, `mm:ss.x`, `mm:ss.xx`, `mm:ss.xxx` (a `:` before the
/// fraction is accepted too, as some editors write it).
pub fn time(stamp: &str) -> Result<i64, String> {
    let bad = || format!("`{stamp}` is not a time stamp (mm:ss.xx)");
    let (minutes, rest) = stamp.split_once(':').ok_or_else(bad)?;
    let (seconds, fraction) = match rest.split_once(['.', ':']) {
        Some((s, f)) => (s, f),
        None => (rest, ""),
    };
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(minutes, 4) || !digits(seconds, 2) || !(fraction.is_empty() || digits(fraction, 3)) {
        return Err(bad());
    }
    let parse = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let (m, s) = (parse(minutes)?, parse(seconds)?);
    if s >= 60 {
        return Err(format!("`{stamp}`: seconds must be below 60"));
    }
    let ms = match fraction.len() {
        0 => 0,
        1 => parse(fraction)? * 100,
        2 => parse(fraction)? * 10,
        _ => parse(fraction)?,
    };
    Ok((m * 60 + s) * 1000 + ms)
}

/// The text of a line after its stamps: enhanced `<mm:ss.xx>` word stamps split it into timed
/// words (a `<` not opening `<mm:` is plain text).
fn words(rest: &str) -> Result<(String, Vec<Word>), String> {
    let mut words = Vec::new();
    let mut plain = String::new();
    let mut current: Option<(i64, String)> = None;
    let mut chars = rest;
    while !chars.is_empty() {
        // `<` then digits then `:` opens a word stamp; anything else (`<3`) is text.
        let stamp_here = chars.strip_prefix('<').is_some_and(|after| {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && after[digits..].starts_with(':')
        });
        if stamp_here {
            let end = chars
                .find('>')
                .ok_or_else(|| "a word stamp `<` without its `>`".to_owned())?;
            let at = time(&chars[1..end])?;
            if let Some((t, text)) = current.take() {
                push_word(&mut words, t, &text);
            }
            current = Some((at, String::new()));
            chars = &chars[end + 1..];
            continue;
        }
        let next = chars.chars().next().map_or(1, char::len_utf8);
        let piece = &chars[..next];
        plain.push_str(piece);
        if let Some((_, text)) = current.as_mut() {
            text.push_str(piece);
        }
        chars = &chars[next..];
    }
    if let Some((t, text)) = current {
        push_word(&mut words, t, &text);
    }
    let text = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((text, words))
}

fn push_word(words: &mut Vec<Word>, time_ms: i64, text: &str) {
    let text = text.trim();
    // A stamp with nothing after it marks where the last word ends: no word of its own.
    if !text.is_empty() {
        words.push(Word {
            time_ms,
            text: text.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn times(l: &Lyrics) -> Vec<(i64, &str)> {
        l.lines
            .iter()
            .map(|l| (l.time_ms, l.text.as_str()))
            .collect()
    }

    #[test]
    fn plain_lines_are_timed_in_ms_and_metadata_is_read_past() {
        let lrc = "[ti:Song]\n[ar:Someone]\n\n[00:12.00]First line\r\n[00:17.20]Second\n[01:02.5]Third\n[02:00]\n";
        let l = parse(lrc).unwrap();
        assert_eq!(
            times(&l),
            vec![
                (12_000, "First line"),
                (17_200, "Second"),
                (62_500, "Third"),
                (120_000, "")
            ]
        );
        assert!(l.lines.iter().all(|l| l.words.is_empty()));
    }

    #[test]
    fn several_stamps_repeat_a_line_in_time_order() {
        let l = parse("[00:30.00][00:10.00]Chorus\n[00:20.00]Verse").unwrap();
        assert_eq!(
            times(&l),
            vec![(10_000, "Chorus"), (20_000, "Verse"), (30_000, "Chorus")]
        );
    }

    #[test]
    fn the_offset_moves_every_time_earlier_or_later() {
        let l = parse("[offset:+500]\n[00:10.00]a\n[00:00.20]b").unwrap();
        assert_eq!(times(&l), vec![(0, "b"), (9_500, "a")]);
        let l = parse("[offset:-250]\n[00:10.00]a").unwrap();
        assert_eq!(times(&l), vec![(10_250, "a")]);
    }

    #[test]
    fn enhanced_word_timing_is_kept_per_word() {
        let l = parse("[00:01.00]<00:01.00>Hello <00:01.50>big <00:02.10>world<00:03.00>").unwrap();
        let line = &l.lines[0];
        assert_eq!(line.text, "Hello big world");
        let words: Vec<_> = line
            .words
            .iter()
            .map(|w| (w.time_ms, w.text.as_str()))
            .collect();
        assert_eq!(
            words,
            vec![(1_000, "Hello"), (1_500, "big"), (2_100, "world")]
        );
        // Repeated at another stamp, the words move with the line.
        let l = parse("[00:01.00][00:11.00]<00:01.00>a <00:01.50>b").unwrap();
        assert_eq!(l.lines[1].words[1].time_ms, 11_500);
        // `<` not followed by a digit is text.
        assert_eq!(
            parse("[00:01.00]I <3 you").unwrap().lines[0].text,
            "I <3 you"
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        for (lrc, line) in [
            ("[00:01.00]ok\nno stamp here", 2),
            ("[00:01.00]ok\n\n[00:61.00]bad seconds", 3),
            ("[0a:01.00]x", 1),
            ("[00:01.00", 1),
            ("[offset:soon]\n[00:01.00]x", 1),
            ("[00:01.00]<00:02.0x>word", 1),
            ("[00:01.00]<00:02.00 word", 1),
            ("[00:01.00][ar:x]y", 1),
            ("[ti:only metadata]", 1),
            ("", 1),
        ] {
            let err = parse(lrc).unwrap_err();
            assert_eq!(err.line, line, "{lrc:?}: {err}");
        }
    }

    proptest! {
        #[test]
        fn rendered_lines_parse_back_to_their_times(
            lines in proptest::collection::vec((0i64..6_000_000, "[a-zA-Z ,']{0,30}"), 1..20),
            offset in -5_000i64..5_000,
        ) {
            let mut text = format!("[offset:{offset}]\n");
            for (ms, words) in &lines {
                let cs = ms / 10;
                text.push_str(&format!("[{:02}:{:02}.{:02}]{words}\n", cs / 6000, cs / 100 % 60, cs % 100));
            }
            let parsed = parse(&text).unwrap();
            let mut want: Vec<(i64, String)> = lines
                .iter()
                .map(|(ms, w)| ((ms / 10 * 10 - offset).max(0), w.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect();
            want.sort_by_key(|w| w.0);
            let got: Vec<(i64, String)> = parsed.lines.iter().map(|l| (l.time_ms, l.text.clone())).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_text_parses_or_names_a_line_within_it(text in "\\PC{0,200}") {
            if let Err(e) = parse(&text) {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1));
            }
        }
    }
}
