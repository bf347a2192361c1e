//! `/api/v2/streams`: create (with a stream key and a ready-to-paste ingest URL), list, show with
//! live state, rotate the key, set the now-playing title.

use crate::auth::{opaque, Authenticated, Role};
use crate::cluster::Owner;
use crate::db::streams::{self, NewStream, StreamRow};
use crate::db::{rooms, DbConnection, DbError};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::guard::{holds, Authorized, StreamsCreate};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, RoomId, StreamId, UserId};
use veza_actors::model::RoomRole;
use veza_actors::permission::Permission;
use veza_actors::registry::FindStream;
use veza_actors::stream::{Info, LiveInfo, SetTitle};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, rotate_key, metadata))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/streams/{id}").route(web::get().to(show)))
    .service(web::resource("/streams/{id}/key").route(web::post().to(rotate_key)))
    .service(web::resource("/streams/{id}/metadata").route(web::put().to(metadata)));
}

#[derive(Deserialize, ToSchema)]
pub struct CreateStream {
    /// 1-128 characters without control characters; the mount is made from it.
    title: String,
    /// A room to announce the stream in (`stream_state`, `now_playing`): the caller must own or
    /// moderate it.
    #[schema(value_type = Option<RoomId>)]
    room_id: Option<String>,
    /// When the broadcast is planned (ms since the epoch), for listings.
    scheduled_at: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = StreamMetadata)]
pub struct Metadata {
    /// The now-playing title (control characters dropped, at most 255 characters kept).
    title: String,
}

/// A stream as listed and shown.
#[derive(Serialize, ToSchema)]
pub struct StreamView {
    pub id: StreamId,
    pub title: String,
    /// The stream's slug in `/live/{mount}/...` and `/hls/{mount}/...`.
    pub mount: String,
    pub owner_id: UserId,
    /// The room the stream is announced in.
    #[schema(required = true)]
    pub room_id: Option<RoomId>,
    #[schema(required = true)]
    pub scheduled_at: Option<i64>,
    pub created_at: i64,
    /// On air (on this node; `GET /api/v2/streams/{id}` also says so when another node serves it).
    pub live: bool,
    /// Progressive and HLS listeners together (0 when not live here).
    pub listeners: u64,
    pub hls_listeners: u64,
    /// The now-playing title while live.
    #[schema(required = true)]
    pub now_playing: Option<String>,
    /// When the broadcast started (ms since the epoch), while live.
    #[schema(required = true)]
    pub live_since: Option<i64>,
    /// The ladder's variants and their listeners.
    pub variants: Vec<StreamVariant>,
    /// The HLS master playlist's path.
    pub hls: String,
    /// Progressive listening paths by variant name (`mp3-128` -> `/live/{mount}/mp3-128`).
    pub listen: BTreeMap<String, String>,
}

/// One variant of a stream's ladder.
#[derive(Serialize, ToSchema)]
pub struct StreamVariant {
    /// `codec-kbps`, e.g. `mp3-128`.
    pub name: String,
    pub listeners: u64,
    /// Bytes sent to listeners of this variant in this broadcast (only while live).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64, required = false)]
    pub bytes_out: Option<u64>,
}

/// A new stream, with its key (shown this once) and the URL to give an Icecast source.
#[derive(Serialize, ToSchema)]
pub struct StreamCreated {
    #[serde(flatten)]
    pub stream: StreamView,
    #[serde(flatten)]
    pub key: StreamKey,
}

/// A stream with the node that serves it.
#[derive(Serialize, ToSchema)]
pub struct StreamDetail {
    #[serde(flatten)]
    pub stream: StreamView,
    /// The node serving the broadcast (this one or another), null when off air.
    #[schema(required = true)]
    pub node: Option<StreamNode>,
}

/// A cluster node serving a live stream.
#[derive(Serialize, ToSchema)]
pub struct StreamNode {
    /// The node's id (`VEZA_NODE_ID`).
    pub id: u16,
    /// Its public URL (`VEZA_PUBLIC_URL`).
    pub url: String,
}

impl From<Owner> for StreamNode {
    fn from(o: Owner) -> Self {
        StreamNode {
            id: o.id,
            url: o.url,
        }
    }
}

/// A stream key (shown this once) and the ingest URL that carries it.
#[derive(Serialize, ToSchema)]
pub struct StreamKey {
    pub stream_key: String,
    /// `icecast://source:KEY@HOST/live/MOUNT`, ready to paste into a source client.
    pub ingest_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct StreamList {
    pub streams: Vec<StreamView>,
}

/// `jazz-night-3f9a2c` from "Jazz Night!": readable, URL-safe, unique by its random tail.
fn mount_for(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 24 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let tail: u32 = rand::thread_rng().gen_range(0..0x100_0000);
    if slug.is_empty() {
        format!("stream-{tail:06x}")
    } else {
        format!("{slug}-{tail:06x}")
    }
}

fn ingest_url(state: &AppState, mount: &str, key: &str) -> String {
    let host = state
        .config
        .ingest_advertise
        .clone()
        .unwrap_or_else(|| state.config.ingest_bind.to_string());
    format!("icecast://source:{key}@{host}/live/{mount}")
}

fn stream_view(state: &AppState, row: &StreamRow, live: Option<&LiveInfo>) -> StreamView {
    let ladder: Vec<String> = state
        .config
        .stream_ladder
        .iter()
        .filter(|v| v.supported())
        .map(|v| v.to_string())
        .collect();
    let variants = match live {
        Some(l) => l
            .variants
            .iter()
            .map(|v| StreamVariant {
                name: v.name.clone(),
                listeners: v.listeners,
                bytes_out: Some(v.bytes_out),
            })
            .collect(),
        None => ladder
            .iter()
            .map(|v| StreamVariant {
                name: v.clone(),
                listeners: 0,
                bytes_out: None,
            })
            .collect(),
    };
    StreamView {
        id: row.id,
        title: row.title.clone(),
        mount: row.mount.clone(),
        owner_id: row.owner_id,
        room_id: row.room_id,
        scheduled_at: row.scheduled_at,
        created_at: row.created_at,
        live: live.is_some(),
        listeners: live.map(|l| l.listeners).unwrap_or(0),
        hls_listeners: live.map(|l| l.hls_listeners).unwrap_or(0),
        now_playing: live.map(|l| l.title.clone()),
        live_since: live.map(|l| l.started_at),
        variants,
        hls: format!("/hls/{}/master.m3u8", row.mount),
        listen: ladder
            .iter()
            .map(|v| (v.clone(), format!("/live/{}/{v}", row.mount)))
            .collect(),
    }
}

fn stream_key(state: &AppState, mount: &str, key: String) -> StreamKey {
    StreamKey {
        ingest_url: ingest_url(state, mount, &key),
        stream_key: key,
    }
}

pub(crate) async fn live_info(state: &AppState, mount: &str) -> Option<LiveInfo> {
    let session = state
        .registry
        .send(FindStream(mount.to_owned()))
        .await
        .ok()
        .flatten()?;
    session.send(Info).await.ok()
}

/// Whether `who` may link a stream to `room` (it will push `stream_state` and `now_playing` into
/// it): the room's owner, one of its moderators, or global staff. A room that does not exist and a
/// private room `who` is not in get the same 422, so the answer reveals no private room.
fn may_link(conn: &mut DbConnection, room: RoomId, who: &Authenticated) -> Result<(), ApiError> {
    let unknown = || ApiError::invalid("room_id: no such room");
    let row = rooms::find(conn, room)?.ok_or_else(unknown)?;
    if matches!(who.role, Role::Admin | Role::Moderator) || row.owner_id == who.user_id {
        return Ok(());
    }
    let membership = rooms::membership(conn, room, who.user_id)?;
    let Some((role, banned_until)) = membership else {
        return if row.private {
            Err(unknown())
        } else {
            Err(not_a_moderator())
        };
    };
    let banned = banned_until.is_some_and(|t| t > now_ms() as i64);
    if banned || RoomRole::parse(&role) < RoomRole::Moderator {
        return Err(not_a_moderator());
    }
    Ok(())
}

fn not_a_moderator() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "only the room's owner or a moderator may link a stream to it",
    )
}

/// Create a stream; its key is in this answer and never again (rotate it to get a new one).
#[utoipa::path(
    post,
    path = "/api/v2/streams",
    tag = "streams",
    request_body = CreateStream,
    responses((status = 201, description = "The stream, its key and ingest URL", body = StreamCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    Authorized(who, _): Authorized<StreamsCreate>,
    state: web::Data<AppState>,
    body: web::Json<CreateStream>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 128 || title.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "title must be 1-128 characters without control characters",
        ));
    }
    let room_id = match &body.room_id {
        Some(r) => Some(
            r.parse::<RoomId>()
                .map_err(|_| ApiError::invalid("room_id is not a room id"))?,
        ),
        None => None,
    };
    let (key, key_hash) = opaque::generate();
    let pool = state.pool.clone();
    let id = StreamId(state.ids.next_id());
    let owner = who.user_id;
    let scheduled_at = body.scheduled_at;
    let who = who.clone();
    let max = state.config.max_streams_per_user;
    let row = web::block(move || {
        let conn = &mut *pool.get()?;
        if max > 0 && streams::count_owned(conn, owner)? >= max as i64 {
            return Err(ApiError::quota(max, "streams"));
        }
        if let Some(room) = room_id {
            may_link(conn, room, &who)?;
        }
        let now = now_ms() as i64;
        // The random tail makes collisions rare; retry the few that happen.
        for _ in 0..5 {
            let mount = mount_for(&title);
            let new = NewStream {
                id,
                owner_id: owner,
                room_id,
                title: &title,
                mount: &mount,
                key_hash: &key_hash,
                scheduled_at,
                created_at: now,
                updated_at: now,
            };
            match streams::insert(conn, &new) {
                Ok(()) => {
                    return streams::find(conn, id)?
                        .ok_or_else(|| ApiError::internal("stream vanished"))
                }
                Err(e) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not find a free mount"))
    })
    .await??;
    Ok(HttpResponse::Created().json(StreamCreated {
        stream: stream_view(&state, &row, None),
        key: stream_key(&state, &row.mount, key),
    }))
}

/// Every stream (the first 200), with its live state on this node.
#[utoipa::path(
    get,
    path = "/api/v2/streams",
    tag = "streams",
    responses((status = 200, description = "The streams", body = StreamList))
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows = web::block(move || streams::list(&mut *pool.get()?, 200)).await??;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let live = live_info(&state, &row.mount).await;
        out.push(stream_view(&state, row, live.as_ref()));
    }
    Ok(HttpResponse::Ok().json(StreamList { streams: out }))
}

pub(crate) async fn load(state: &AppState, id: StreamId) -> Result<StreamRow, ApiError> {
    let pool = state.pool.clone();
    web::block(move || streams::find(&mut *pool.get()?, id))
        .await??
        .ok_or_else(|| ApiError::not_found("no such stream"))
}

/// A stream, with its live state and the node that serves it.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}",
    tag = "streams",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "The stream", body = StreamDetail))
)]
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let live = live_info(&state, &row.mount).await;
    let mut stream = stream_view(&state, &row, live.as_ref());
    // Which node serves it: this one, another (its listener counts are there), or none.
    let node = match &live {
        Some(_) => Some(Owner {
            id: state.config.node_id,
            url: state.config.base_url(),
        }),
        None => state.stream_elsewhere(&row.mount).await,
    };
    if node.is_some() {
        stream.live = true;
    }
    Ok(HttpResponse::Ok().json(StreamDetail {
        stream,
        node: node.map(StreamNode::from),
    }))
}

/// The stream's owner, or a holder of `streams.manage`.
pub(crate) fn owner_only(
    state: &AppState,
    who: &crate::auth::Authenticated,
    row: &StreamRow,
) -> Result<(), ApiError> {
    if who.user_id == row.owner_id || holds(state, who, Permission::StreamsManage) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the stream's owner may do that",
        ))
    }
}

/// A new stream key (owner or `streams.manage`); the old one stops working, and a source live
/// with it is taken off air at its next recheck (`ingest/recheck.rs`).
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/key",
    tag = "streams",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "The new key and ingest URL", body = StreamKey)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn rotate_key(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    owner_only(&state, &who, &row)?;
    let (key, key_hash) = opaque::generate();
    let pool = state.pool.clone();
    let id = row.id;
    let actor = who.user_id;
    let ids = state.ids.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        let now = now_ms() as i64;
        streams::set_key_hash(conn, id, &key_hash, now)?;
        crate::db::audit::record(
            conn,
            &crate::db::audit::NewAuditEntry {
                id: ids.next_id(),
                actor_id: Some(actor),
                action: "stream.key_rotated",
                target_type: Some("stream"),
                target_id: Some(id.to_string()),
                created_at: now,
                ..Default::default()
            },
        )?;
        Ok::<_, DbError>(())
    })
    .await??;
    Ok(HttpResponse::Ok().json(stream_key(&state, &row.mount, key)))
}

/// Set the now-playing title (ICY `StreamTitle`, and `now_playing` in a linked room) of a live
/// stream (owner or `streams.manage`).
#[utoipa::path(
    put,
    path = "/api/v2/streams/{id}/metadata",
    tag = "streams",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = Metadata,
    responses(
        (status = 204, description = "Set"),
        (status = 409, description = "The stream is not live (`not_live`)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn metadata(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<Metadata>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    owner_only(&state, &who, &row)?;
    let title: String = body
        .title
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect();
    match state
        .registry
        .send(FindStream(row.mount))
        .await
        .ok()
        .flatten()
    {
        Some(session) => {
            session.do_send(SetTitle(title));
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_live",
            "the stream is not live",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::mount_for;

    #[test]
    fn mounts_are_slugs_with_a_random_tail() {
        let m = mount_for("Jazz Night! Live @ Blue Note");
        assert!(m.starts_with("jazz-night-live-blue-not"), "{m}");
        assert!(m.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(mount_for("???").starts_with("stream-"));
    }
}
