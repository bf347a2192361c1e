//! `@name`, `@room` and `@here` in a message body, as the room reads them on send. Text inside
//! code (`inline` spans and ``` fenced blocks) never mentions anyone, nor does an address such as
//! `bob@example.com`: a mention starts at the beginning of the body or after a character that
//! cannot be part of a name.

/// Most distinct names one message may mention (the rest stay plain text).
pub const MAX_MENTIONS: usize = 50;

/// What a body mentions. Names are lower-cased (usernames are unique ignoring case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentioned {
    pub names: Vec<String>,
    /// `@room`: every member.
    pub room: bool,
    /// `@here`: the members online now.
    pub here: bool,
}

impl Mentioned {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.room && !self.here
    }
}

/// A character usernames may contain (see the server's username rules).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The mentions in `body`.
pub fn parse(body: &str) -> Mentioned {
    let mut found = Mentioned::default();
    for text in outside_code(body) {
        scan(text, &mut found);
    }
    found
}

fn scan(text: &str, found: &mut Mentioned) {
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts = c == '@' && !prev.is_some_and(|p| name_char(p) || p == '@');
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let len = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
        // A trailing dot or dash is punctuation ("thanks @bob."), not part of the name.
        let name = rest[..len].trim_end_matches(['.', '-']);
        if name.is_empty() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "room" | "everyone" | "channel" => found.room = true,
            "here" => found.here = true,
            _ if found.names.len() < MAX_MENTIONS && !found.names.contains(&lower) => {
                found.names.push(lower)
            }
            _ => {}
        }
        // Skip the name so its characters are not scanned again.
        for _ in 0..name.chars().count() {
            if let Some((_, c)) = chars.next() {
                prev = Some(c);
            }
        }
    }
}

/// The parts of `body` outside code: fenced blocks (``` ... ```, to the end of the body if never
/// closed) and inline spans (a run of backticks up to the next run of the same length).
fn outside_code(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = body;
    loop {
        let Some(open) = rest.find('`') else {
            parts.push(rest);
            return parts;
        };
        parts.push(&rest[..open]);
        let ticks = rest[open..].chars().take_while(|c| *c == '`').count();
        let after = &rest[open + ticks..];
        let fence = "`".repeat(ticks);
        // The closing run must be exactly as long (longer runs are content).
        let mut search = 0;
        let close = loop {
            match after[search..].find(&fence) {
                Some(at) => {
                    let at = search + at;
                    let run = after[at..].chars().take_while(|c| *c == '`').count();
                    if run == ticks {
                        break Some(at);
                    }
                    search = at + run;
                }
                None => break None,
            }
        };
        match close {
            Some(at) => rest = &after[at + ticks..],
            // An unclosed fence hides the rest; unclosed single backticks are literal text.
            None if ticks >= 3 => return parts,
            None => {
                parts.push(&rest[open..open + ticks]);
                rest = after;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<String> {
        parse(body).names
    }

    #[test]
    fn finds_names_once_lower_cased() {
        assert_eq!(names("hi @Bob and @carol, @bob again"), ["bob", "carol"]);
        assert_eq!(names("@alice: look"), ["alice"]);
        assert_eq!(names("thanks @bob."), ["bob"]);
        assert_eq!(names("(@dan_99)"), ["dan_99"]);
        assert_eq!(names("@a.b-c rocks"), ["a.b-c"]);
    }

    #[test]
    fn addresses_and_lone_signs_are_not_mentions() {
        assert!(names("mail bob@example.com").is_empty());
        assert!(names("@ alone, @@double").is_empty());
        assert!(names("price: 5@3").is_empty());
    }

    #[test]
    fn code_never_mentions() {
        assert!(names("`@bob` is how you mention").is_empty());
        assert!(names("```\n@bob\n```").is_empty());
        assert!(names("``code with ` and @bob``").is_empty());
        assert_eq!(names("`@bob` but @carol"), ["carol"]);
        assert_eq!(names("```rust\n@x\n``` then @dave"), ["dave"]);
        // An unclosed fence hides the rest; an unclosed backtick is just a backtick.
        assert!(names("```\n@bob never closed").is_empty());
        assert_eq!(names("it`s @erin"), ["erin"]);
    }

    #[test]
    fn room_and_here() {
        let m = parse("@room meeting now, @here too");
        assert!(m.room && m.here && m.names.is_empty());
        assert!(parse("@everyone").room);
        assert!(!parse("`@room`").room);
        assert!(parse("nothing").is_empty());
    }

    #[test]
    fn at_most_max_names() {
        let body: String = (0..80).map(|i| format!("@u{i} ")).collect();
        assert_eq!(names(&body).len(), MAX_MENTIONS);
    }
}
