//! Newtype ids and the snowflake generator that mints them.
//!
//! Ids are 64-bit, time-ordered (41 bits of milliseconds since [`EPOCH_MS`], 10 bits of node id,
//! 12 bits of sequence) so that they sort by creation time in every backend and can be minted on
//! several nodes without coordination. On the wire they are JSON strings, because JavaScript
//! numbers lose precision above 2^53.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
#[cfg(feature = "diesel")]
mod sql;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 2024-01-01T00:00:00Z: the zero of the id clock, which leaves ~69 years of ids ahead.
pub const EPOCH_MS: u64 = 1_704_067_200_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const MAX_NODE: u16 = (1 << NODE_BITS) - 1;

/// Mints unique, time-ordered ids for one node. Cheap to share: it is one atomic word.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    /// The last id handed out, minus its node bits: `(millis << SEQ_BITS) | seq`. Kept in one word so
    /// a compare-and-swap both orders ids and detects sequence overflow within a millisecond.
    last: AtomicU64,
}

impl IdGenerator {
    /// A generator for `node` (0..=1023); nodes of one cluster must use different values.
    pub fn new(node: u16) -> Self {
        Self {
            node: u64::from(node.min(MAX_NODE)),
            last: AtomicU64::new(0),
        }
    }

    /// The next id; strictly greater than every id this generator returned before.
    pub fn next_id(&self) -> i64 {
        let now = now_ms().saturating_sub(EPOCH_MS) << SEQ_BITS;
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            // If the clock went backwards or we ran out of sequence in this millisecond, we borrow
            // from the future: ids stay unique and ordered, and the clock catches up.
            let candidate = if now > prev { now } else { prev + 1 };
            match self.last.compare_exchange_weak(
                prev,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let millis = candidate >> SEQ_BITS;
                    let seq = candidate & ((1 << SEQ_BITS) - 1);
                    let id = (millis << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq;
                    return id as i64;
                }
                Err(actual) => prev = actual,
            }
        }
    }
}

/// Milliseconds since the Unix epoch, the unit of every timestamp Veza stores.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(
            feature = "diesel",
            derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow),
            diesel(sql_type = diesel::sql_types::BigInt)
        )]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<i64>().map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        /// On the wire: a decimal string (a JSON integer is accepted too).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^[0-9]{1,19}$"))
                    .description(Some(concat!("A 64-bit id as a decimal string: ", stringify!($name))))
                    .examples([serde_json::json!("190523786652078080")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            /// Accepts the canonical string form and, for lenient clients, a JSON integer.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Repr<'a> {
                    Str(&'a str),
                    Owned(String),
                    Num(i64),
                }
                match Repr::deserialize(d)? {
                    Repr::Str(s) => s.parse().map_err(serde::de::Error::custom),
                    Repr::Owned(s) => s.parse().map_err(serde::de::Error::custom),
                    Repr::Num(n) => Ok($name(n)),
                }
            }
        }
    };
}

id_newtype!(
    /// A user account.
    UserId
);
id_newtype!(
    /// A chat room.
    RoomId
);
id_newtype!(
    /// A chat message.
    MessageId
);
id_newtype!(
    /// A live stream.
    StreamId
);
id_newtype!(
    /// An uploaded file (an attachment).
    UploadId
);
id_newtype!(
    /// A track of a user's library (an uploaded audio file).
    TrackId
);
id_newtype!(
    /// A collaborative playlist of library tracks.
    PlaylistId
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_increasing_under_burst() {
        let gen = IdGenerator::new(7);
        let mut last = 0;
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = gen.next_id();
            assert!(id > last, "{id} not above {last}");
            assert!(seen.insert(id));
            last = id;
        }
    }

    #[test]
    fn ids_carry_the_node_and_a_recent_timestamp() {
        let id = IdGenerator::new(5).next_id() as u64;
        assert_eq!((id >> SEQ_BITS) & u64::from(MAX_NODE), 5);
        let millis = (id >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS;
        assert!(now_ms().abs_diff(millis) < 5_000);
    }

    #[test]
    fn ids_serialise_as_strings_and_accept_numbers() {
        let json = serde_json::to_string(&UserId(1234567890123456789)).unwrap();
        assert_eq!(json, "\"1234567890123456789\"");
        let back: UserId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, UserId(1234567890123456789));
        let num: RoomId = serde_json::from_str("42").unwrap();
        assert_eq!(num, RoomId(42));
        assert!(serde_json::from_str::<RoomId>("\"abc\"").is_err());
    }
}
