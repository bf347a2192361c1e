//! The `playlist_*` WebSocket events, sent after each committed edit to the playlist's owner and
//! editors on every node (through the registry's `ToUsers`, which crosses nodes over Redis).
//!
//! Every event carries the playlist's id and its `version` after the edit. Versions go up by one
//! per edit, so a client applies events in version order (frames published on two nodes may
//! arrive out of order) and reads the playlist again when one is missing.

use super::edit::Placed;
use bytestring::ByteString;
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::{PlaylistId, TrackId, UserId};

/// An item as events and the REST answers show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaylistItem {
    /// The item's id (a decimal string): a track may be in a playlist more than once.
    pub id: String,
    pub track: PlaylistTrackSummary,
    /// The item's fractional index: items sort by it, byte by byte.
    pub position: String,
    /// The item right before it (null: it is first). For `playlist_item_removed`, the item that
    /// was before it.
    #[schema(required = true)]
    pub after: Option<String>,
    pub added_by: UserId,
    pub added_at: i64,
}

/// The track of an item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaylistTrackSummary {
    pub id: TrackId,
    pub title: String,
    #[schema(required = true)]
    pub artist: Option<String>,
    pub duration_ms: i64,
}

impl PlaylistItem {
    pub fn of(placed: &Placed) -> Self {
        let (item, track) = (&placed.item.item, &placed.item.track);
        PlaylistItem {
            id: item.id.to_string(),
            track: PlaylistTrackSummary {
                id: TrackId(track.id),
                title: track.title.clone(),
                artist: track.artist.clone(),
                duration_ms: track.duration_ms,
            },
            position: item.position.clone(),
            after: placed.after.map(|a| a.to_string()),
            added_by: item.added_by,
            added_at: item.added_at,
        }
    }
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ItemAdded,
    ItemMoved,
    ItemRemoved,
    Updated,
    EditorAdded,
    EditorRemoved,
    Deleted,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::ItemAdded => "playlist_item_added",
            Kind::ItemMoved => "playlist_item_moved",
            Kind::ItemRemoved => "playlist_item_removed",
            Kind::Updated => "playlist_updated",
            Kind::EditorAdded => "playlist_editor_added",
            Kind::EditorRemoved => "playlist_editor_removed",
            Kind::Deleted => "playlist_deleted",
        }
    }
}

/// `{"type":"playlist_…","playlist","version","by", "item"|"name"|"editor"}`.
#[derive(Debug, Serialize)]
pub struct PlaylistEvent<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub playlist: PlaylistId,
    /// The playlist's version after this edit.
    pub version: i64,
    /// Who made the edit.
    pub by: UserId,
    /// `playlist_item_*`: the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<&'a PlaylistItem>,
    /// `playlist_updated`: the new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// `playlist_editor_*`: the editor invited or removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editor: Option<UserId>,
}

impl<'a> PlaylistEvent<'a> {
    pub fn new(kind: Kind, playlist: PlaylistId, version: i64, by: UserId) -> Self {
        PlaylistEvent {
            kind: kind.name(),
            playlist,
            version,
            by,
            item: None,
            name: None,
            editor: None,
        }
    }

    pub fn frame(&self) -> ByteString {
        // Strings and numbers only: serialising cannot fail.
        ByteString::from(serde_json::to_string(self).unwrap_or_default())
    }
}
