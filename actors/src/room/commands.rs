//! Slash commands: parsing `/ban @bob 1h spamming` into a [`Command`], durations, who may use what,
//! and the `/help` text.

use crate::model::RoomRole;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Me(String),
    Topic(String),
    Kick {
        user: String,
        reason: Option<String>,
    },
    Ban {
        user: String,
        duration_ms: Option<i64>,
        reason: Option<String>,
    },
    Unban {
        user: String,
    },
    Mute {
        user: String,
        duration_ms: Option<i64>,
        reason: Option<String>,
    },
    Unmute {
        user: String,
    },
    /// `None`: slow mode off.
    Slow(Option<i64>),
    Invite {
        user: String,
    },
    Op {
        user: String,
    },
    Deop {
        user: String,
    },
    Help,
}

impl Command {
    /// The least room role that may run it.
    pub fn required_role(&self) -> RoomRole {
        match self {
            Command::Me(_) | Command::Help => RoomRole::Member,
            Command::Op { .. } | Command::Deop { .. } => RoomRole::Owner,
            _ => RoomRole::Moderator,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Me(_) => "me",
            Command::Topic(_) => "topic",
            Command::Kick { .. } => "kick",
            Command::Ban { .. } => "ban",
            Command::Unban { .. } => "unban",
            Command::Mute { .. } => "mute",
            Command::Unmute { .. } => "unmute",
            Command::Slow(_) => "slow",
            Command::Invite { .. } => "invite",
            Command::Op { .. } => "op",
            Command::Deop { .. } => "deop",
            Command::Help => "help",
        }
    }
}

/// (usage, description, least role) for `/help`.
const HELP: &[(&str, &str, RoomRole)] = &[
    ("/me ACTION", "say what you are doing", RoomRole::Member),
    ("/help", "list the commands you may use", RoomRole::Member),
    ("/topic TEXT", "set the room topic", RoomRole::Moderator),
    (
        "/kick @user [reason]",
        "remove someone from the room (they may rejoin)",
        RoomRole::Moderator,
    ),
    (
        "/ban @user [duration] [reason]",
        "ban someone (10m, 2h, 1d, 1w; none = permanent)",
        RoomRole::Moderator,
    ),
    ("/unban @user", "lift a ban", RoomRole::Moderator),
    (
        "/mute @user [duration] [reason]",
        "stop someone from sending",
        RoomRole::Moderator,
    ),
    ("/unmute @user", "lift a mute", RoomRole::Moderator),
    (
        "/slow SECONDS|off",
        "one message per SECONDS per member",
        RoomRole::Moderator,
    ),
    (
        "/invite @user",
        "make someone a member (private rooms)",
        RoomRole::Moderator,
    ),
    ("/op @user", "make a member a moderator", RoomRole::Owner),
    (
        "/deop @user",
        "make a moderator a member again",
        RoomRole::Owner,
    ),
];

/// Every built-in command: (name, argument hint, description, least role).
pub fn builtins() -> impl Iterator<Item = (&'static str, &'static str, &'static str, RoomRole)> {
    HELP.iter().map(|(usage, what, least)| {
        let usage = usage.trim_start_matches('/');
        let (name, args) = usage.split_once(' ').unwrap_or((usage, ""));
        (name, args, *what, *least)
    })
}

/// The commands a caller with `role` may use, one per line.
pub fn help_text(role: RoomRole) -> String {
    HELP.iter()
        .filter(|(_, _, least)| role >= *least)
        .map(|(usage, what, _)| format!("{usage} - {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `name` is a built-in command (no bot may register it).
pub fn is_builtin(name: &str) -> bool {
    builtins().any(|(builtin, ..)| builtin.eq_ignore_ascii_case(name))
}

/// The command's name in a body starting with `/` (`roll` in `/roll 2d6`).
pub fn name_of(body: &str) -> &str {
    let rest = body.strip_prefix('/').unwrap_or(body);
    rest.split(char::is_whitespace).next().unwrap_or("")
}

/// Parses a body starting with `/`. `Err` is a message for the caller.
pub fn parse(body: &str) -> Result<Command, String> {
    let rest = body.strip_prefix('/').unwrap_or(body);
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest.trim(), ""),
    };
    let mut words = args.split_whitespace();
    let user = |w: Option<&str>| -> Result<String, String> {
        w.map(|u| u.trim_start_matches('@').to_owned())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| format!("usage: /{name} @user"))
    };
    let rest_text = |words: std::str::SplitWhitespace<'_>| {
        let text = words.collect::<Vec<_>>().join(" ");
        (!text.is_empty()).then_some(text)
    };
    match name.to_lowercase().as_str() {
        "me" if !args.is_empty() => Ok(Command::Me(args.to_owned())),
        "me" => Err("usage: /me ACTION".into()),
        "topic" => Ok(Command::Topic(args.to_owned())),
        "kick" => {
            let user = user(words.next())?;
            Ok(Command::Kick {
                user,
                reason: rest_text(words),
            })
        }
        "ban" | "mute" => {
            let user = user(words.next())?;
            let mut peek = words.clone();
            let duration_ms = match peek.next().map(parse_duration) {
                Some(Some(ms)) => {
                    words.next();
                    Some(ms)
                }
                _ => None,
            };
            let reason = rest_text(words);
            Ok(if name.eq_ignore_ascii_case("ban") {
                Command::Ban {
                    user,
                    duration_ms,
                    reason,
                }
            } else {
                Command::Mute {
                    user,
                    duration_ms,
                    reason,
                }
            })
        }
        "unban" => Ok(Command::Unban {
            user: user(words.next())?,
        }),
        "unmute" => Ok(Command::Unmute {
            user: user(words.next())?,
        }),
        "invite" => Ok(Command::Invite {
            user: user(words.next())?,
        }),
        "op" => Ok(Command::Op {
            user: user(words.next())?,
        }),
        "deop" => Ok(Command::Deop {
            user: user(words.next())?,
        }),
        "slow" => match args {
            "off" | "0" => Ok(Command::Slow(None)),
            s => match s.parse::<i64>() {
                Ok(n) if (1..=86_400).contains(&n) => Ok(Command::Slow(Some(n))),
                _ => Err("usage: /slow SECONDS (1-86400) or /slow off".into()),
            },
        },
        "help" => Ok(Command::Help),
        other => Err(format!("unknown command /{other}; try /help")),
    }
}

/// `30s`, `10m`, `2h`, `1d`, `1w` in milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// `1h`-style text for a duration, for system messages.
pub fn format_duration(ms: i64) -> String {
    let units = [
        (7 * 86_400_000, "w"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(600_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("0m"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("spam"), None);
        assert_eq!(format_duration(7_200_000), "2h");
    }

    #[test]
    fn commands_parse_with_optional_duration_and_reason() {
        assert_eq!(
            parse("/ban @bob 1h spamming links").unwrap(),
            Command::Ban {
                user: "bob".into(),
                duration_ms: Some(3_600_000),
                reason: Some("spamming links".into())
            }
        );
        assert_eq!(
            parse("/ban bob being rude").unwrap(),
            Command::Ban {
                user: "bob".into(),
                duration_ms: None,
                reason: Some("being rude".into())
            }
        );
        assert_eq!(
            parse("/mute @eve").unwrap(),
            Command::Mute {
                user: "eve".into(),
                duration_ms: None,
                reason: None
            }
        );
        assert_eq!(parse("/me waves").unwrap(), Command::Me("waves".into()));
        assert_eq!(parse("/slow 5").unwrap(), Command::Slow(Some(5)));
        assert_eq!(parse("/slow off").unwrap(), Command::Slow(None));
        assert_eq!(
            parse("/topic Jazz all night").unwrap(),
            Command::Topic("Jazz all night".into())
        );
        assert_eq!(parse("/help").unwrap(), Command::Help);
        assert!(parse("/kick").is_err());
        assert!(parse("/slow fast").is_err());
        assert!(parse("/fly away").is_err());
        assert!(parse("/me").is_err());
    }

    #[test]
    fn help_lists_only_what_the_caller_may_use() {
        let member = help_text(RoomRole::Member);
        assert!(member.contains("/me") && !member.contains("/ban"));
        let moderator = help_text(RoomRole::Moderator);
        assert!(moderator.contains("/ban") && !moderator.contains("/op"));
        assert!(help_text(RoomRole::Owner).contains("/op"));
    }
}
