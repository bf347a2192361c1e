//! Collaborative playlists over REST: `POST|GET /playlists` (create, list the caller's: owned or
//! edited), `GET|PATCH|DELETE /playlists/{id}` (read, rename, delete: owner only), `PUT|DELETE
//! /playlists/{id}/editors/{user_id}` (the owner invites and removes; an editor may leave), and
//! the items: `POST /playlists/{id}/items`, `PATCH|DELETE /playlists/{id}/items/{item}`. Anyone but
//! the owner and the editors gets 404.
//!
//! Every mutating request may send `If-Match: "<version>"` (the `version` it read, also sent back
//! as `ETag`): if another edit came first, 409 `version_conflict` with the current version in the
//! `ETag` header and the message. Without it, an edit placed after/before an item applies to the
//! playlist as it is when the edit runs. Each committed edit sends a `playlist_*` event to the
//! owner and the editors on every node.

use crate::db::playlists::{self as store, Member, PlaylistRow};
use crate::db::DbPool;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::playlists::edit::{self, Applied, Caller, Place, Placed};
use crate::playlists::event::{Kind, PlaylistEvent, PlaylistItem};
use crate::playlists::{PlaylistError, MAX_NAME_CHARS};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, PlaylistId, TrackId, UserId};
use veza_actors::registry::ToUsers;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    list,
    show,
    rename,
    delete,
    add_editor,
    remove_editor,
    add_item,
    move_item,
    remove_item
))]
pub struct Api;

/// The routes under `/api/v2`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/playlists")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/playlists/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(rename))
            .route(web::delete().to(delete)),
    )
    .service(
        web::resource("/playlists/{id}/editors/{user_id}")
            .route(web::put().to(add_editor))
            .route(web::delete().to(remove_editor)),
    )
    .service(web::resource("/playlists/{id}/items").route(web::post().to(add_item)))
    .service(
        web::resource("/playlists/{id}/items/{item}")
            .route(web::patch().to(move_item))
            .route(web::delete().to(remove_item)),
    );
}

/// A user a playlist names (its owner, an editor).
#[derive(Serialize, ToSchema)]
pub struct PlaylistMember {
    pub id: UserId,
    pub username: String,
}

impl From<Member> for PlaylistMember {
    fn from(m: Member) -> Self {
        PlaylistMember {
            id: m.id,
            username: m.username,
        }
    }
}

/// A playlist with its editors and its items in order.
#[derive(Serialize, ToSchema)]
pub struct PlaylistView {
    pub id: PlaylistId,
    pub name: String,
    pub owner: PlaylistMember,
    pub editors: Vec<PlaylistMember>,
    /// Bumped by every edit; send it back as `If-Match: "<version>"` to refuse stale edits.
    pub version: i64,
    /// In order (by `position`, byte by byte).
    pub items: Vec<PlaylistItem>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A playlist of the caller's list.
#[derive(Serialize, ToSchema)]
pub struct PlaylistSummary {
    pub id: PlaylistId,
    pub name: String,
    pub owner_id: UserId,
    /// `owner` or `editor`: the caller's part.
    pub role: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PlaylistList {
    /// Newest first.
    pub playlists: Vec<PlaylistSummary>,
}

/// An item edit's answer: the item where it is now (where it was, for a removal) and the
/// playlist's version after the edit.
#[derive(Serialize, ToSchema)]
pub struct ItemChange {
    pub version: i64,
    pub item: PlaylistItem,
}

/// `POST /playlists` and `PATCH /playlists/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistName {
    /// 1-200 characters.
    name: String,
}

/// Where an item goes: `after` an item (`null`: at the start) or `before` one; neither: at the end.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPlace {
    /// The item to put it right after (an item id); `null` puts it first.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    after: Option<Option<String>>,
    /// The item to put it right before.
    #[schema(nullable = false)]
    before: Option<String>,
}

/// `POST /playlists/{id}/items`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// A track of the owner's or an editor's library.
    track: TrackId,
    /// The item to put it right after (an item id); `null` puts it first.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    after: Option<Option<String>>,
    /// The item to put it right before.
    #[schema(nullable = false)]
    before: Option<String>,
}

/// A field that is present, even as `null` (`Some(None)`), apart from an absent one (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl ItemPlace {
    fn place(&self) -> Result<Place, PlaylistError> {
        place_of(&self.after, &self.before)
    }
}

fn place_of(
    after: &Option<Option<String>>,
    before: &Option<String>,
) -> Result<Place, PlaylistError> {
    let id = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| PlaylistError::invalid(format!("{s:?} is not an item id")))
    };
    {
        match (after, before) {
            (Some(_), Some(_)) => Err(PlaylistError::invalid("give `after` or `before`, not both")),
            (Some(None), None) => Ok(Place::Start),
            (Some(Some(after)), None) => Ok(Place::After(id(after)?)),
            (None, Some(before)) => Ok(Place::Before(id(before)?)),
            (None, None) => Ok(Place::End),
        }
    }
}

fn checked_name(name: &str) -> Result<String, PlaylistError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PlaylistError::invalid(format!(
            "name must be 1-{MAX_NAME_CHARS} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// The version in `If-Match` (`"7"`, `W/"7"` or `7`; `*` or none: any).
fn if_match(req: &HttpRequest) -> Result<Option<i64>, PlaylistError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>()
        .map(Some)
        .map_err(|_| PlaylistError::invalid("If-Match must be a playlist version, e.g. \"7\""))
}

fn caller(who: &AuthUser, req: &HttpRequest) -> Result<Caller, PlaylistError> {
    Ok(Caller {
        user: who.0.user_id,
        if_match: if_match(req)?,
        now: now_ms() as i64,
    })
}

fn etag(version: i64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// Runs `f` on a pooled connection off the async workers.
async fn blocking<T: Send + 'static>(
    pool: &DbPool,
    f: impl FnOnce(&mut crate::db::DbConnection) -> Result<T, PlaylistError> + Send + 'static,
) -> Result<T, ApiError> {
    let pool = pool.clone();
    let value = web::block(move || {
        let conn = &mut *pool.get()?;
        f(conn)
    })
    .await??;
    Ok(value)
}

/// The playlist as `user` (a member) sees it; 404 otherwise.
fn view(
    conn: &mut crate::db::DbConnection,
    id: PlaylistId,
    user: UserId,
) -> Result<PlaylistView, PlaylistError> {
    let row = store::find(conn, id)?.ok_or(PlaylistError::NotFound)?;
    if row.owner_id != user && !store::is_editor(conn, id, user)? {
        return Err(PlaylistError::NotFound);
    }
    let owner = Member {
        id: row.owner_id,
        username: store::username(conn, row.owner_id)?.unwrap_or_default(),
    };
    let editors = store::editors(conn, id)?;
    let items = store::items(conn, id)?;
    let mut after = None;
    let items = items
        .into_iter()
        .map(|item| {
            let placed = Placed { item, after };
            after = Some(placed.item.item.id);
            PlaylistItem::of(&placed)
        })
        .collect();
    Ok(PlaylistView {
        id: row.id,
        name: row.name,
        owner: owner.into(),
        editors: editors.into_iter().map(Into::into).collect(),
        version: row.version,
        items,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Sends the edit's event to its audience, on every node.
fn announce(state: &AppState, audience: Vec<UserId>, event: &PlaylistEvent<'_>) {
    state.registry.do_send(ToUsers {
        users: audience,
        frame: event.frame(),
    });
}

fn viewed(view: PlaylistView) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view)
}

/// Create a playlist owned by the caller (version 1, no items).
#[utoipa::path(
    post,
    path = "/api/v2/playlists",
    tag = "playlists",
    request_body = PlaylistName,
    responses((status = 201, description = "The playlist", body = PlaylistView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    who: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<PlaylistName>,
) -> Result<HttpResponse, ApiError> {
    let name = checked_name(&body.name)?;
    let id = PlaylistId(state.ids.next_id());
    let user = who.0.user_id;
    let view = blocking(&state.pool, move |conn| {
        edit::create(conn, id, user, &name, now_ms() as i64)?;
        view(conn, id, user)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(etag(view.version))
        .json(view))
}

/// The playlists the caller owns or edits, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/playlists",
    tag = "playlists",
    responses((status = 200, description = "The caller's playlists", body = PlaylistList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(who: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = who.0.user_id;
    let rows = blocking(&state.pool, move |conn| Ok(store::of_member(conn, user)?)).await?;
    let summary = |row: PlaylistRow| PlaylistSummary {
        id: row.id,
        role: if row.owner_id == user {
            "owner"
        } else {
            "editor"
        }
        .to_owned(),
        name: row.name,
        owner_id: row.owner_id,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    Ok(HttpResponse::Ok().json(PlaylistList {
        playlists: rows.into_iter().map(summary).collect(),
    }))
}

/// A playlist with its editors and items in order (owner and editors only).
#[utoipa::path(
    get,
    path = "/api/v2/playlists/{id}",
    tag = "playlists",
    params(("id" = PlaylistId, Path, description = "The playlist's id")),
    responses((status = 200, description = "The playlist; `ETag` is its version", body = PlaylistView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    who: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<PlaylistId>,
) -> Result<HttpResponse, ApiError> {
    let (id, user) = (path.into_inner(), who.0.user_id);
    let view = blocking(&state.pool, move |conn| view(conn, id, user)).await?;
    Ok(viewed(view))
}

/// Rename a playlist (owner or editor); sends `playlist_updated`.
#[utoipa::path(
    patch,
    path = "/api/v2/playlists/{id}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    request_body = PlaylistName,
    responses((status = 200, description = "The playlist", body = PlaylistView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn rename(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<PlaylistId>,
    body: web::Json<PlaylistName>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (path.into_inner(), caller(&who, &req)?);
    let name = checked_name(&body.name)?;
    let (applied, view) = blocking(&state.pool, move |conn| {
        let applied = edit::rename(conn, id, caller, &name)?;
        Ok((applied, view(conn, id, caller.user)?))
    })
    .await?;
    let mut event = PlaylistEvent::new(Kind::Updated, id, applied.playlist.version, caller.user);
    event.name = Some(&applied.playlist.name);
    announce(&state, applied.audience.clone(), &event);
    Ok(viewed(view))
}

/// Delete a playlist (owner only); sends `playlist_deleted` to everyone who was a member.
#[utoipa::path(
    delete,
    path = "/api/v2/playlists/{id}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<PlaylistId>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (path.into_inner(), caller(&who, &req)?);
    let applied = blocking(&state.pool, move |conn| edit::delete(conn, id, caller)).await?;
    let event = PlaylistEvent::new(Kind::Deleted, id, applied.playlist.version, caller.user);
    announce(&state, applied.audience, &event);
    Ok(HttpResponse::NoContent().finish())
}

/// Invite an editor (owner only); sends `playlist_editor_added` (to the new editor too).
/// Inviting an editor again changes nothing.
#[utoipa::path(
    put,
    path = "/api/v2/playlists/{id}/editors/{user_id}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("user_id" = UserId, Path, description = "The user to invite"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    responses((status = 200, description = "The playlist", body = PlaylistView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn add_editor(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(PlaylistId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, editor), caller) = (path.into_inner(), caller(&who, &req)?);
    let (applied, view) = blocking(&state.pool, move |conn| {
        let applied = match edit::add_editor(conn, id, caller, editor) {
            Err(PlaylistError::Unchanged) => None,
            other => Some(other?),
        };
        Ok((applied, view(conn, id, caller.user)?))
    })
    .await?;
    if let Some(applied) = applied {
        editor_event(&state, Kind::EditorAdded, &applied, caller.user, editor);
    }
    Ok(viewed(view))
}

/// Remove an editor: the owner removes anyone, an editor may remove themselves (leave). Sends
/// `playlist_editor_removed` (to the removed editor too).
#[utoipa::path(
    delete,
    path = "/api/v2/playlists/{id}/editors/{user_id}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("user_id" = UserId, Path, description = "The editor to remove"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn remove_editor(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(PlaylistId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, editor), caller) = (path.into_inner(), caller(&who, &req)?);
    let applied = blocking(&state.pool, move |conn| {
        edit::remove_editor(conn, id, caller, editor)
    })
    .await?;
    editor_event(&state, Kind::EditorRemoved, &applied, caller.user, editor);
    Ok(HttpResponse::NoContent()
        .insert_header(etag(applied.playlist.version))
        .finish())
}

fn editor_event(state: &AppState, kind: Kind, applied: &Applied<()>, by: UserId, editor: UserId) {
    let mut event = PlaylistEvent::new(kind, applied.playlist.id, applied.playlist.version, by);
    event.editor = Some(editor);
    announce(state, applied.audience.clone(), &event);
}

/// Add a track (of the owner's or an editor's library) after or before an item, first (`"after":
/// null`) or, by default, last; sends `playlist_item_added`.
#[utoipa::path(
    post,
    path = "/api/v2/playlists/{id}/items",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    request_body = NewItem,
    responses((status = 201, description = "The new item", body = ItemChange)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn add_item(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<PlaylistId>,
    body: web::Json<NewItem>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (path.into_inner(), caller(&who, &req)?);
    let (track, place) = (body.track, place_of(&body.after, &body.before)?);
    let item_id = state.ids.next_id();
    let applied = blocking(&state.pool, move |conn| {
        edit::add_item(conn, id, caller, item_id, track.0, place)
    })
    .await?;
    Ok(item_changed(
        &state,
        Kind::ItemAdded,
        applied,
        caller.user,
        HttpResponse::Created(),
    ))
}

/// Move an item right after or before another, first (`"after": null`) or last (`{}`); sends
/// `playlist_item_moved`.
#[utoipa::path(
    patch,
    path = "/api/v2/playlists/{id}/items/{item}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("item" = String, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    request_body = ItemPlace,
    responses((status = 200, description = "The item where it is now", body = ItemChange)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn move_item(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(PlaylistId, i64)>,
    body: web::Json<ItemPlace>,
) -> Result<HttpResponse, ApiError> {
    let ((id, item), caller) = (path.into_inner(), caller(&who, &req)?);
    let place = body.place()?;
    let applied = blocking(&state.pool, move |conn| {
        edit::move_item(conn, id, caller, item, place)
    })
    .await?;
    Ok(item_changed(
        &state,
        Kind::ItemMoved,
        applied,
        caller.user,
        HttpResponse::Ok(),
    ))
}

/// Remove an item; sends `playlist_item_removed`.
#[utoipa::path(
    delete,
    path = "/api/v2/playlists/{id}/items/{item}",
    tag = "playlists",
    params(
        ("id" = PlaylistId, Path, description = "The playlist's id"),
        ("item" = String, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on"),
    ),
    responses((status = 200, description = "The removed item, where it was", body = ItemChange)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn remove_item(
    who: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(PlaylistId, i64)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, item), caller) = (path.into_inner(), caller(&who, &req)?);
    let applied = blocking(&state.pool, move |conn| {
        edit::remove_item(conn, id, caller, item)
    })
    .await?;
    Ok(item_changed(
        &state,
        Kind::ItemRemoved,
        applied,
        caller.user,
        HttpResponse::Ok(),
    ))
}

fn item_changed(
    state: &AppState,
    kind: Kind,
    applied: Applied<Placed>,
    by: UserId,
    mut res: actix_web::HttpResponseBuilder,
) -> HttpResponse {
    let version = applied.playlist.version;
    let item = announce_item(state, kind, applied, by);
    res.insert_header(etag(version))
        .json(ItemChange { version, item })
}

/// Tells the playlist's owner and editors of an item edit by `by`: the item as they see it.
pub fn announce_item(
    state: &AppState,
    kind: Kind,
    applied: Applied<Placed>,
    by: UserId,
) -> PlaylistItem {
    let item = PlaylistItem::of(&applied.value);
    let mut event = PlaylistEvent::new(kind, applied.playlist.id, applied.playlist.version, by);
    event.item = Some(&item);
    announce(state, applied.audience, &event);
    item
}
