//! ROOM as the REST API shows it: the room's row, and for a member their read marker, unread and
//! mention counts and whether they muted it; a conversation also lists its members and is named
//! after the others (the viewer left out).

use crate::db::rooms::RoomRow;
use crate::db::unread::RoomCounts;
use crate::db::{conversations, unread, DbConnection, DbError};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use veza_actors::model::{RoomKind, UserRef};
use veza_actors::{RoomId, UserId};

/// A room (or conversation) as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomView {
    pub id: RoomId,
    /// A conversation's is its other members' names (`just you` when alone).
    pub name: String,
    #[schema(required = true)]
    pub topic: Option<String>,
    pub private: bool,
    pub owner_id: UserId,
    pub last_seq: i64,
    pub slow_mode_s: i64,
    pub created_at: i64,
    /// `room`, `direct` or `group`.
    pub kind: RoomKind,
    /// Conversations only: who is in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub members: Option<Vec<UserRef>>,
    /// The caller's standing, when they are a member (the four are absent otherwise): the last
    /// `seq` they read,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub read_seq: Option<i64>,
    /// how many messages they have not read,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unread: Option<i64>,
    /// how many of those mention them,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mentions: Option<i64>,
    /// and whether they muted the room.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub muted: Option<bool>,
}

impl RoomView {
    /// The row alone (no counts, no members).
    pub fn of(row: &RoomRow) -> Self {
        RoomView {
            id: row.id,
            name: row.name.clone(),
            topic: row.topic.clone(),
            private: row.private,
            owner_id: row.owner_id,
            last_seq: row.last_seq,
            slow_mode_s: row.slow_mode_s,
            created_at: row.created_at,
            kind: row.kind(),
            members: None,
            read_seq: None,
            unread: None,
            mentions: None,
            muted: None,
        }
    }

    fn with_counts(mut self, counts: Option<&RoomCounts>) -> Self {
        if let Some(c) = counts {
            self.read_seq = Some(c.read_seq);
            self.unread = Some(c.unread);
            self.mentions = Some(c.mentions);
            self.muted = Some(c.muted);
        }
        self
    }

    /// A conversation is named after its other members, as `viewer` sees it.
    fn with_members(mut self, members: Option<&Vec<UserRef>>, viewer: UserId) -> Self {
        if let Some(members) = members {
            let others: Vec<&str> = members
                .iter()
                .filter(|m| m.id != viewer)
                .map(|m| m.username.as_str())
                .collect();
            self.name = if others.is_empty() {
                "just you".to_owned()
            } else {
                others.join(", ")
            };
            self.members = Some(members.clone());
        }
        self
    }
}

/// Views of `rows` as `viewer` sees them: counts for their rooms, members of conversations.
pub fn views_for(
    conn: &mut DbConnection,
    rows: &[RoomRow],
    viewer: UserId,
) -> Result<Vec<RoomView>, DbError> {
    let counts = unread::for_user(conn, viewer)?;
    let conversation_ids: Vec<RoomId> = rows
        .iter()
        .filter(|r| r.kind().is_conversation())
        .map(|r| r.id)
        .collect();
    let members: HashMap<RoomId, Vec<UserRef>> =
        conversations::members_of(conn, &conversation_ids)?;
    Ok(rows
        .iter()
        .map(|row| {
            RoomView::of(row)
                .with_counts(counts.get(&row.id))
                .with_members(members.get(&row.id), viewer)
        })
        .collect())
}

/// One room as `viewer` sees it.
pub fn view_for(
    conn: &mut DbConnection,
    row: &RoomRow,
    viewer: UserId,
) -> Result<RoomView, DbError> {
    Ok(views_for(conn, std::slice::from_ref(row), viewer)?
        .pop()
        .unwrap_or_else(|| RoomView::of(row)))
}

/// `{"rooms":[ROOM...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomList {
    pub rooms: Vec<RoomView>,
}
