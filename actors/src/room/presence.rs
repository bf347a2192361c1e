//! Who is online in a room, on this node and on the others, and the batched `presence` and
//! `typing` frames. This node's changes are published to the other replicas at each flush; theirs
//! arrive as [`RoomEvent::Presence`] / [`RoomEvent::Typing`] and are only broadcast here. Each flush
//! sends at most one frame of each kind, so a busy room costs O(members) per flush.

use super::fanout::RoomEvent;
use super::{ConnHandle, Room};
use crate::bus::Topic;
use crate::ids::UserId;
use crate::model::UserRef;
use crate::outbox::{ConnId, Outbox};
use crate::protocol::event;
use actix::prelude::*;
use bytestring::ByteString;
use std::collections::HashMap;
use std::time::Instant;

struct Online {
    user: UserRef,
    conns: HashMap<ConnId, Outbox>,
    /// When each connection joined here (unix ms), for kicks found in the store later.
    joined: HashMap<ConnId, i64>,
}

#[derive(Default)]
pub(super) struct Presence {
    local: HashMap<UserId, Online>,
    /// Who is online on each other node, as that node last said.
    remote: HashMap<u16, HashMap<UserId, UserRef>>,
    /// This node's changes since the last flush (published and broadcast).
    local_joined: Vec<UserRef>,
    local_left: Vec<UserRef>,
    /// Other nodes' changes since the last flush (broadcast only).
    heard_joined: Vec<UserRef>,
    heard_left: Vec<UserRef>,
    local_typing: HashMap<UserId, UserRef>,
    heard_typing: HashMap<UserId, UserRef>,
    pub(super) flush_scheduled: bool,
    /// The online count the last `presence` frame carried.
    sent_online: usize,
    /// The last `presence` frame was a large room's (a count without names).
    sent_large: bool,
}

/// What one flush sends: to this node's members, and to the other nodes.
#[derive(Default)]
pub(super) struct Flush {
    pub joined: Vec<UserRef>,
    pub left: Vec<UserRef>,
    pub typing: Vec<UserRef>,
    pub publish_presence: Option<(Vec<UserRef>, Vec<UserRef>)>,
    pub publish_typing: Vec<UserRef>,
}

impl Presence {
    pub fn has_pending(&self) -> bool {
        !self.local_joined.is_empty()
            || !self.local_left.is_empty()
            || !self.heard_joined.is_empty()
            || !self.heard_left.is_empty()
            || !self.local_typing.is_empty()
            || !self.heard_typing.is_empty()
    }

    pub fn restart(&mut self) {
        self.flush_scheduled = false;
    }

    /// Pushes `frame` to every local connection; returns those that are gone.
    pub fn push_all(&self, frame: &ByteString) -> Vec<(UserId, ConnId)> {
        let mut dead = Vec::new();
        for (uid, online) in &self.local {
            for (cid, outbox) in &online.conns {
                if !outbox.push(frame.clone()) {
                    dead.push((*uid, *cid));
                }
            }
        }
        dead
    }

    pub fn is_here(&self, user: UserId, conn: ConnId) -> bool {
        self.local
            .get(&user)
            .is_some_and(|o| o.conns.contains_key(&conn))
    }

    pub fn is_online(&self, user: UserId) -> bool {
        self.local.contains_key(&user) || self.remote.values().any(|n| n.contains_key(&user))
    }

    pub fn local_is_empty(&self) -> bool {
        self.local.is_empty()
    }

    pub fn local_conn_count(&self) -> usize {
        self.local.values().map(|o| o.conns.len()).sum()
    }

    pub fn local_users(&self) -> Vec<UserRef> {
        self.local.values().map(|o| o.user.clone()).collect()
    }

    /// Up to `max` of the users online in the room, on any node (this node's first).
    pub fn everyone_up_to(&self, max: usize) -> Vec<UserRef> {
        let local = self.local.values().map(|o| &o.user);
        let remote = self
            .remote
            .values()
            .flat_map(|n| n.values())
            .filter(|u| !self.local.contains_key(&u.id));
        let mut seen = std::collections::HashSet::new();
        local
            .chain(remote)
            .filter(|u| seen.insert(u.id))
            .take(max)
            .cloned()
            .collect()
    }

    /// How many users are online in the room, on any node.
    pub fn online_count(&self) -> usize {
        let elsewhere: std::collections::HashSet<UserId> = self
            .remote
            .values()
            .flat_map(|n| n.keys().copied())
            .filter(|id| !self.local.contains_key(id))
            .collect();
        self.local.len() + elsewhere.len()
    }

    /// Records the count a `presence` frame is about to carry; false if it is the one last sent.
    fn count_changed(&mut self, online: usize) -> bool {
        std::mem::replace(&mut self.sent_online, online) != online
    }

    /// Makes the next flush send the count even if it equals the last one sent (a joiner was told
    /// a count the others have not heard).
    pub fn resend_count(&mut self) {
        self.sent_online = usize::MAX;
    }

    pub fn clear_local(&mut self) {
        self.local.clear();
    }

    /// The local connections of one user.
    pub fn conns_of(&self, user: UserId) -> Vec<(ConnId, Outbox)> {
        self.local
            .get(&user)
            .map(|o| o.conns.iter().map(|(id, out)| (*id, out.clone())).collect())
            .unwrap_or_default()
    }

    /// The local connections of one user that joined at or before `at` (unix ms).
    pub fn conns_joined_by(&self, user: UserId, at: i64) -> Vec<(ConnId, Outbox)> {
        let Some(online) = self.local.get(&user) else {
            return Vec::new();
        };
        online
            .conns
            .iter()
            .filter(|(id, _)| online.joined.get(id).is_some_and(|t| *t <= at))
            .map(|(id, out)| (*id, out.clone()))
            .collect()
    }

    /// Adds a connection; true if it is the user's first here.
    pub fn add(&mut self, conn: &ConnHandle) -> bool {
        let entry = self.local.entry(conn.user.id).or_insert_with(|| Online {
            user: conn.user.user_ref(),
            conns: HashMap::new(),
            joined: HashMap::new(),
        });
        let first = entry.conns.is_empty();
        entry.conns.insert(conn.id(), conn.outbox.clone());
        entry.joined.insert(conn.id(), crate::ids::now_ms() as i64);
        if first {
            self.local_joined.push(conn.user.user_ref());
        }
        first
    }

    pub fn remove(&mut self, user: UserId, conn: ConnId) {
        if let Some(online) = self.local.get_mut(&user) {
            online.conns.remove(&conn);
            online.joined.remove(&conn);
            if online.conns.is_empty() {
                if let Some(gone) = self.local.remove(&user) {
                    self.local_typing.remove(&user);
                    self.local_left.push(gone.user);
                }
            }
        }
    }

    pub fn typing_here(&mut self, user: UserRef) {
        self.local_typing.insert(user.id, user);
    }

    pub fn heard_typing(&mut self, users: Vec<UserRef>) {
        for user in users {
            self.heard_typing.insert(user.id, user);
        }
    }

    /// Another node's changes.
    pub fn heard(&mut self, node: u16, joined: Vec<UserRef>, left: Vec<UserRef>) {
        let theirs = self.remote.entry(node).or_default();
        for user in left {
            theirs.remove(&user.id);
            self.heard_left.push(user);
        }
        for user in joined {
            theirs.insert(user.id, user.clone());
            self.heard_joined.push(user);
        }
    }

    /// Another node's full list: replaces what we knew of it.
    pub fn roster(&mut self, node: u16, users: Vec<UserRef>) {
        let new: HashMap<UserId, UserRef> = users.into_iter().map(|u| (u.id, u)).collect();
        let old = self.remote.insert(node, new.clone()).unwrap_or_default();
        self.heard_left
            .extend(old.values().filter(|u| !new.contains_key(&u.id)).cloned());
        self.heard_joined
            .extend(new.values().filter(|u| !old.contains_key(&u.id)).cloned());
    }

    /// A node stopped (or its heartbeats did): its users are gone unless online elsewhere.
    pub fn forget_node(&mut self, node: u16) {
        if let Some(theirs) = self.remote.remove(&node) {
            self.heard_left.extend(theirs.into_values());
        }
    }

    /// Forgets every other node (this replica stops following the room).
    pub fn forget_remote(&mut self) {
        self.remote.clear();
        self.heard_joined.clear();
        self.heard_left.clear();
        self.heard_typing.clear();
    }

    /// Takes the pending changes. Someone who came and went within one flush is not announced; a
    /// user counts as online while any node has them.
    pub fn take_flush(&mut self) -> Flush {
        let local_joined = std::mem::take(&mut self.local_joined);
        let local_left = std::mem::take(&mut self.local_left);
        let mut flush = Flush::default();
        let here_joined: Vec<UserRef> = dedup(
            local_joined
                .into_iter()
                .filter(|u| self.local.contains_key(&u.id)),
        );
        let here_left: Vec<UserRef> = dedup(
            local_left
                .into_iter()
                .filter(|u| !self.local.contains_key(&u.id)),
        );
        let heard_joined = std::mem::take(&mut self.heard_joined);
        let heard_left = std::mem::take(&mut self.heard_left);
        flush.joined = dedup(
            here_joined
                .iter()
                .cloned()
                .chain(heard_joined)
                .filter(|u| self.is_online(u.id)),
        );
        flush.left = dedup(
            here_left
                .iter()
                .cloned()
                .chain(heard_left)
                .filter(|u| !self.is_online(u.id)),
        );
        if !here_joined.is_empty() || !here_left.is_empty() {
            flush.publish_presence = Some((here_joined, here_left));
        }
        flush.publish_typing = self.local_typing.drain().map(|(_, u)| u).collect();
        let heard_typing: Vec<UserRef> = self.heard_typing.drain().map(|(_, u)| u).collect();
        flush.typing = dedup(flush.publish_typing.iter().cloned().chain(heard_typing));
        flush
    }
}

fn dedup(users: impl Iterator<Item = UserRef>) -> Vec<UserRef> {
    let mut seen = std::collections::HashSet::new();
    users.filter(|u| seen.insert(u.id)).collect()
}

impl Room {
    pub(super) fn is_online(&self, user: UserId, conn: ConnId) -> bool {
        self.presence.is_here(user, conn)
    }

    pub(super) fn add_online(&mut self, ctx: &mut Context<Self>, conn: &ConnHandle) {
        let was_empty = self.presence.local_is_empty();
        self.presence.add(conn);
        self.idle_since = None;
        if was_empty {
            self.follow(ctx);
        }
    }

    pub(super) fn remove_conn(&mut self, user: UserId, conn: ConnId) {
        self.presence.remove(user, conn);
        if self.presence.local_is_empty() {
            self.idle_since = Some(Instant::now());
            self.unfollow();
        }
    }

    /// Takes every connection of `user` out of the room, telling each one.
    pub(super) fn remove_user(&mut self, user: UserId) {
        for (id, outbox) in self.presence.conns_of(user) {
            outbox.push(event::left(self.id, None));
            self.remove_conn(user, id);
        }
    }

    /// Takes out the connections of `user` that joined by `at`: a kick this replica missed (found
    /// in the store), which must not touch a connection that joined again after it.
    pub(super) fn remove_joined_by(&mut self, user: UserId, at: i64) {
        for (id, outbox) in self.presence.conns_joined_by(user, at) {
            outbox.push(event::left(self.id, None));
            self.remove_conn(user, id);
        }
    }

    /// More users online than `joined` lists: presence goes out as a count, less often.
    pub(super) fn is_large(&self) -> bool {
        self.presence.online_count() > self.config().presence_list_max
    }

    pub(super) fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.presence.flush_scheduled {
            self.presence.flush_scheduled = true;
            let mut every = self.config().presence_flush;
            if self.is_large() {
                every *= super::LARGE_ROOM_FLUSH_FACTOR;
            }
            ctx.run_later(every, |act, _ctx| {
                act.presence.flush_scheduled = false;
                act.flush_presence();
            });
        }
    }

    fn flush_presence(&mut self) {
        let flush = self.presence.take_flush();
        if let Some((joined, left)) = flush.publish_presence {
            self.tell_others(RoomEvent::Presence { joined, left });
        }
        if !flush.publish_typing.is_empty() {
            self.tell_others(RoomEvent::Typing {
                users: flush.publish_typing,
            });
        }
        let online = self.presence.online_count();
        let changed = self.presence.count_changed(online);
        let max = self.config().presence_list_max;
        let large = online > max;
        let was_large = std::mem::replace(&mut self.presence.sent_large, large);
        if large {
            // Who came and went is not listed in a large room: only how many are here.
            if changed {
                self.broadcast(event::presence(self.id, &[], &[], online, None));
            }
        } else if was_large {
            // Small again: everyone's names, since nobody was named while the room was large.
            let members = self.presence.everyone_up_to(max);
            let (joined, left) = (&flush.joined, &flush.left);
            self.broadcast(event::presence(
                self.id,
                joined,
                left,
                online,
                Some(&members),
            ));
        } else if !flush.joined.is_empty() || !flush.left.is_empty() {
            let (joined, left) = (&flush.joined, &flush.left);
            self.broadcast(event::presence(self.id, joined, left, online, None));
        }
        if !flush.typing.is_empty() {
            self.broadcast(event::typing(self.id, &flush.typing));
        }
    }

    /// Answers another node's `Hello` with who is online here.
    pub(super) fn send_roster(&self) {
        if !self.presence.local_is_empty() {
            self.tell_others(RoomEvent::Roster {
                users: self.presence.local_users(),
            });
        }
    }

    /// Starts following the room on the bus (the first local member arrived).
    fn follow(&mut self, _ctx: &mut Context<Self>) {
        if self.env.bus.is_clustered() && !self.sync.following {
            self.sync.following = true;
            self.env.bus.subscribe(Topic::Room(self.id));
        }
    }

    /// Stops following (the last local member left): this replica's state goes stale from now
    /// on, so the next join reloads it from the store.
    fn unfollow(&mut self) {
        if self.sync.following {
            self.sync.following = false;
            self.env.bus.unsubscribe(Topic::Room(self.id));
            self.presence.forget_remote();
            self.loaded = false;
            self.ring.clear();
        }
    }
}

/// `typing` from a connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub conn: ConnHandle,
}

impl Handler<Typing> for Room {
    type Result = ();

    fn handle(&mut self, msg: Typing, ctx: &mut Context<Self>) {
        if self.is_online(msg.conn.user.id, msg.conn.id()) {
            self.presence.typing_here(msg.conn.user.user_ref());
            self.schedule_flush(ctx);
        }
    }
}
