//! Delivery in `seq` order. Committed messages reach a room replica from its own commits, from other
//! nodes over the bus, and from the store when catching up, in any order and possibly twice. The
//! sequencer lets through exactly the next seq, holds later ones back until the gap is filled, and
//! drops what was already delivered: members see every message once, in order, with no gap.

use crate::model::MessageView;
use std::collections::BTreeMap;

/// How many out-of-order messages are held at most; past that the room catches up from the store
/// and the held messages are dropped (the store has them).
const MAX_HELD: usize = 4096;

#[derive(Debug, Default)]
pub struct Sequencer {
    delivered: i64,
    held: BTreeMap<i64, MessageView>,
}

impl Sequencer {
    /// A sequencer that has delivered everything up to `last`.
    pub fn new(last: i64) -> Self {
        Self {
            delivered: last,
            held: BTreeMap::new(),
        }
    }

    /// The highest seq delivered: every seq up to it went out, in order.
    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// Whether a later message waits for an earlier one.
    pub fn has_gap(&self) -> bool {
        !self.held.is_empty()
    }

    /// Applies an edit, deletion or reaction to a message still held back, so it goes out in its
    /// latest state; false if no held message has that id.
    pub fn patch_held(
        &mut self,
        id: crate::ids::MessageId,
        patch: impl FnOnce(&mut MessageView),
    ) -> bool {
        match self.held.values_mut().find(|m| m.id == id) {
            Some(message) => {
                patch(message);
                true
            }
            None => false,
        }
    }

    /// Offers a committed message; returns the messages that may go out now, in seq order.
    pub fn offer(&mut self, message: MessageView) -> Vec<MessageView> {
        if message.seq <= self.delivered {
            return Vec::new();
        }
        if message.seq != self.delivered + 1 {
            if self.held.len() < MAX_HELD {
                self.held.insert(message.seq, message);
            }
            return Vec::new();
        }
        let mut out = vec![message];
        self.delivered += 1;
        while let Some(next) = self.held.remove(&(self.delivered + 1)) {
            out.push(next);
            self.delivered += 1;
        }
        // Anything held at or below `delivered` came twice.
        self.held = self.held.split_off(&(self.delivered + 1));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MessageId, RoomId, UserId};
    use crate::model::{MessageKind, UserRef};
    use proptest::prelude::*;

    fn m(seq: i64) -> MessageView {
        MessageView {
            id: MessageId(seq),
            room: RoomId(1),
            seq,
            kind: MessageKind::User,
            author: UserRef {
                id: UserId(1),
                username: "a".into(),
            },
            body: String::new(),
            thread: None,
            created_at: 0,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            emoji: Vec::new(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn holds_a_gap_until_it_is_filled() {
        let mut s = Sequencer::new(4);
        assert!(s.offer(m(6)).is_empty());
        assert!(s.has_gap());
        let out: Vec<i64> = s.offer(m(5)).iter().map(|m| m.seq).collect();
        assert_eq!(out, vec![5, 6]);
        assert!(!s.has_gap());
        assert!(s.offer(m(5)).is_empty(), "a repeat is dropped");
    }

    #[test]
    fn a_held_message_goes_out_with_the_changes_made_meanwhile() {
        let mut s = Sequencer::new(0);
        assert!(s.offer(m(2)).is_empty());
        assert!(s.patch_held(MessageId(2), |held| held.body = "edited".into()));
        assert!(!s.patch_held(MessageId(1), |_| {}), "not held");
        let out = s.offer(m(1));
        assert_eq!(out[1].body, "edited");
        assert!(
            !s.patch_held(MessageId(2), |_| {}),
            "delivered, no longer held"
        );
    }

    proptest! {
        /// Whatever the arrival order and repeats, every seq goes out once, in order.
        #[test]
        fn any_order_with_repeats_delivers_each_once_in_order(
            order in Just((1..=40i64).collect::<Vec<_>>()).prop_shuffle(),
            repeats in proptest::collection::vec(1..=40i64, 0..20),
        ) {
            let mut s = Sequencer::new(0);
            let mut out = Vec::new();
            for seq in order.into_iter().chain(repeats) {
                out.extend(s.offer(m(seq)).into_iter().map(|m| m.seq));
            }
            prop_assert_eq!(out, (1..=40).collect::<Vec<_>>());
            prop_assert!(!s.has_gap());
        }
    }
}
