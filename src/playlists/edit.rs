//! The edits of a playlist, each one write transaction that first bumps the playlist's version:
//! that write takes the row's lock on PostgreSQL (and SQLite has one writer at a time), so edits
//! of one playlist run one after the other on every node, each on the state the previous one
//! left. An edit placed `after`/`before` an item therefore applies to the current order, and two
//! editors' concurrent inserts and moves all apply and converge. A caller that sends the version
//! it saw (`If-Match`) gets [`PlaylistError::VersionConflict`] if another edit came first.

use super::position::between;
use super::{PlaylistError, MAX_EDITORS, MAX_ITEMS};
use crate::db::playlists::{self as store, ItemRow, ItemWithTrack, PlaylistRow};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use veza_actors::ids::{PlaylistId, UserId};

/// Who is asking, and the version they saw (if they sent one).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub user: UserId,
    pub if_match: Option<i64>,
    pub now: i64,
}

/// Where an insert or a move puts an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// At the end (the default).
    End,
    /// At the start (`"after": null`).
    Start,
    /// Right after this item.
    After(i64),
    /// Right before this item.
    Before(i64),
}

/// A committed edit: the playlist after it (its new version) and who hears about it.
#[derive(Debug)]
pub struct Applied<T> {
    pub playlist: PlaylistRow,
    pub audience: Vec<UserId>,
    pub value: T,
}

/// An item where an edit put it (or where it was, for a removal): `after` is the item before it.
#[derive(Debug, Clone)]
pub struct Placed {
    pub item: ItemWithTrack,
    pub after: Option<i64>,
}

/// The playlist locked for an edit by `caller`, who must be its owner or an editor.
struct Locked {
    row: PlaylistRow,
    is_owner: bool,
}

/// Runs `edit` in a write transaction after bumping the version and checking the caller's rights
/// and `If-Match`; any error rolls the whole edit back.
fn edit<T>(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    f: impl FnOnce(&mut DbConnection, &Locked) -> Result<T, PlaylistError>,
) -> Result<Applied<T>, PlaylistError> {
    write_transaction(conn, |conn| {
        let row = store::bump(conn, id, caller.now)?.ok_or(PlaylistError::NotFound)?;
        let is_owner = row.owner_id == caller.user;
        if !is_owner && !store::is_editor(conn, id, caller.user)? {
            return Err(PlaylistError::NotFound);
        }
        let before = row.version - 1;
        if caller.if_match.is_some_and(|seen| seen != before) {
            return Err(PlaylistError::VersionConflict { current: before });
        }
        let locked = Locked { row, is_owner };
        let value = f(conn, &locked)?;
        // The audience after the edit (an invited editor hears of their invitation).
        let audience = store::audience(conn, &locked.row)?;
        // Gone after a delete: then the row as the edit locked it (with the bumped version).
        let playlist = store::find(conn, id)?.unwrap_or(locked.row);
        Ok(Applied {
            playlist,
            audience,
            value,
        })
    })
}

/// A new playlist owned by `owner`, at version 1.
pub fn create(
    conn: &mut DbConnection,
    id: PlaylistId,
    owner: UserId,
    name: &str,
    now: i64,
) -> Result<PlaylistRow, PlaylistError> {
    let row = PlaylistRow {
        id,
        owner_id: owner,
        name: name.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::insert(conn, &row)?;
    Ok(row)
}

/// Renames the playlist (owner or editor).
pub fn rename(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    name: &str,
) -> Result<Applied<()>, PlaylistError> {
    edit(conn, id, caller, |conn, _| {
        Ok(store::rename(conn, id, name)?)
    })
}

/// Deletes the playlist (owner only): the audience is everyone who was a member.
pub fn delete(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
) -> Result<Applied<Vec<UserId>>, PlaylistError> {
    let mut applied = edit(conn, id, caller, |conn, locked| {
        if !locked.is_owner {
            return Err(PlaylistError::Forbidden(
                "only the owner may delete a playlist",
            ));
        }
        let members = store::audience(conn, &locked.row)?;
        store::delete(conn, id)?;
        Ok(members)
    })?;
    applied.audience = applied.value.clone();
    Ok(applied)
}

/// Invites `editor` (owner only). Inviting an editor again changes nothing
/// ([`PlaylistError::Unchanged`]).
pub fn add_editor(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    editor: UserId,
) -> Result<Applied<()>, PlaylistError> {
    edit(conn, id, caller, |conn, locked| {
        if !locked.is_owner {
            return Err(PlaylistError::Forbidden(
                "only the owner may invite editors",
            ));
        }
        if editor == locked.row.owner_id {
            return Err(PlaylistError::invalid(
                "the owner is not an editor of their playlist",
            ));
        }
        if store::username(conn, editor)?.is_none() {
            return Err(PlaylistError::UserNotFound);
        }
        if store::is_editor(conn, id, editor)? {
            return Err(PlaylistError::Unchanged);
        }
        if store::editor_count(conn, id)? >= MAX_EDITORS {
            return Err(PlaylistError::Full(format!("{MAX_EDITORS} editors")));
        }
        Ok(store::add_editor(conn, id, editor, caller.now)?)
    })
}

/// Removes `editor`: the owner removes anyone, an editor may remove themselves (leave). The
/// removed editor is in the audience.
pub fn remove_editor(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    editor: UserId,
) -> Result<Applied<()>, PlaylistError> {
    let mut applied = edit(conn, id, caller, |conn, locked| {
        if !locked.is_owner && editor != caller.user {
            return Err(PlaylistError::Forbidden(
                "only the owner may remove another editor",
            ));
        }
        if !store::remove_editor(conn, id, editor)? {
            return Err(PlaylistError::UserNotFound);
        }
        Ok(())
    })?;
    applied.audience.push(editor);
    Ok(applied)
}

/// Adds `track` at `place` as item `item_id`.
pub fn add_item(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    item_id: i64,
    track: i64,
    place: Place,
) -> Result<Applied<Placed>, PlaylistError> {
    edit(conn, id, caller, |conn, locked| {
        let owner = store::track_owner(conn, track)?;
        let allowed = match owner {
            Some(o) if o == locked.row.owner_id => true,
            Some(o) => store::is_editor(conn, id, o)?,
            None => false,
        };
        if !allowed {
            return Err(PlaylistError::TrackUnavailable(track));
        }
        if store::item_count(conn, id)? >= MAX_ITEMS {
            return Err(PlaylistError::Full(format!("{MAX_ITEMS} items")));
        }
        let (lo, hi) = neighbours(conn, id, place, None)?;
        let position = between(
            lo.as_ref().map(|r| r.position.as_str()),
            hi.as_ref().map(|r| r.position.as_str()),
        )?;
        store::insert_item(
            conn,
            &ItemRow {
                id: item_id,
                playlist_id: id,
                track_id: track,
                position,
                added_by: caller.user,
                added_at: caller.now,
            },
        )?;
        placed(conn, id, item_id, lo.map(|r| r.id))
    })
}

/// Moves item `item` to `place`.
pub fn move_item(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    item: i64,
    place: Place,
) -> Result<Applied<Placed>, PlaylistError> {
    edit(conn, id, caller, |conn, _| {
        if store::item(conn, id, item)?.is_none() {
            return Err(PlaylistError::ItemNotFound);
        }
        if matches!(place, Place::After(x) | Place::Before(x) if x == item) {
            return Err(PlaylistError::invalid(
                "an item cannot be placed next to itself",
            ));
        }
        let (lo, hi) = neighbours(conn, id, place, Some(item))?;
        let position = between(
            lo.as_ref().map(|r| r.position.as_str()),
            hi.as_ref().map(|r| r.position.as_str()),
        )?;
        store::set_position(conn, item, &position)?;
        placed(conn, id, item, lo.map(|r| r.id))
    })
}

/// Removes item `item`; the answer is where it was.
pub fn remove_item(
    conn: &mut DbConnection,
    id: PlaylistId,
    caller: Caller,
    item: i64,
) -> Result<Applied<Placed>, PlaylistError> {
    edit(conn, id, caller, |conn, _| {
        let found = store::item(conn, id, item)?.ok_or(PlaylistError::ItemNotFound)?;
        let after = store::prev_before(conn, id, Some(&found.item.position), None)?;
        store::delete_item(conn, item)?;
        Ok(Placed {
            item: found,
            after: after.map(|r| r.id),
        })
    })
}

/// Removes every item of track `track` from every playlist, in the caller's transaction (its
/// owner is deleting it): one edit (version bump) per item, as if an editor had removed it, so
/// viewers hear `playlist_item_removed` instead of finding the item gone.
pub fn unlink_track(
    conn: &mut DbConnection,
    track: i64,
    now: i64,
) -> Result<Vec<Applied<Placed>>, PlaylistError> {
    let mut removed = Vec::new();
    for (id, item) in store::items_of_track(conn, track)? {
        let (Some(row), Some(found)) = (store::bump(conn, id, now)?, store::item(conn, id, item)?)
        else {
            continue;
        };
        let after = store::prev_before(conn, id, Some(&found.item.position), None)?;
        store::delete_item(conn, item)?;
        let audience = store::audience(conn, &row)?;
        removed.push(Applied {
            playlist: row,
            audience,
            value: Placed {
                item: found,
                after: after.map(|r| r.id),
            },
        });
    }
    Ok(removed)
}

fn placed(
    conn: &mut DbConnection,
    id: PlaylistId,
    item: i64,
    after: Option<i64>,
) -> Result<Placed, PlaylistError> {
    let item = store::item(conn, id, item)?.ok_or(PlaylistError::ItemNotFound)?;
    Ok(Placed { item, after })
}

/// The items `place` falls between, leaving out `moving` (the item being moved).
fn neighbours(
    conn: &mut DbConnection,
    id: PlaylistId,
    place: Place,
    moving: Option<i64>,
) -> Result<(Option<ItemRow>, Option<ItemRow>), PlaylistError> {
    let anchor = |conn: &mut DbConnection, at: i64| {
        store::item(conn, id, at)?
            .map(|found| found.item)
            .ok_or(PlaylistError::ItemGone(at))
    };
    Ok(match place {
        Place::End => (store::prev_before(conn, id, None, moving)?, None),
        Place::Start => (None, store::next_after(conn, id, None, moving)?),
        Place::After(at) => {
            let lo = anchor(conn, at)?;
            let hi = store::next_after(conn, id, Some(&lo.position), moving)?;
            (Some(lo), hi)
        }
        Place::Before(at) => {
            let hi = anchor(conn, at)?;
            let lo = store::prev_before(conn, id, Some(&hi.position), moving)?;
            (lo, Some(hi))
        }
    })
}
