//! Channel names on Redis for the bus topics, and back.

use veza_actors::bus::Topic;
use veza_actors::RoomId;

pub fn name(prefix: &str, topic: Topic) -> String {
    match topic {
        Topic::Room(id) => format!("{prefix}:room:{}", id.0),
        Topic::Sessions => format!("{prefix}:sessions"),
        Topic::Nodes => format!("{prefix}:nodes"),
        Topic::Users => format!("{prefix}:users"),
    }
}

pub fn parse(prefix: &str, channel: &str) -> Option<Topic> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix(':')?;
    match rest {
        "sessions" => Some(Topic::Sessions),
        "nodes" => Some(Topic::Nodes),
        "users" => Some(Topic::Users),
        _ => rest
            .strip_prefix("room:")?
            .parse()
            .ok()
            .map(|id| Topic::Room(RoomId(id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for topic in [
            Topic::Room(RoomId(-5)),
            Topic::Sessions,
            Topic::Nodes,
            Topic::Users,
        ] {
            assert_eq!(parse("v:x", &name("v:x", topic)), Some(topic));
        }
        assert_eq!(parse("v", "other:room:1"), None);
        assert_eq!(parse("v", "v:room:abc"), None);
    }
}
