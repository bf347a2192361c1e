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
use serde::Deserialize;
use serde_json::{json, Value};
use veza_actors::ids::now_ms;
use veza_actors::model::RoomRole;
use veza_actors::permission::Permission;
use veza_actors::registry::FindStream;
use veza_actors::stream::{Info, SetTitle};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
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

#[derive(Deserialize)]
pub struct CreateStream {
    title: String,
    room_id: Option<String>,
    scheduled_at: Option<i64>,
}

#[derive(Deserialize)]
pub struct Metadata {
    title: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message,
    )
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

fn stream_json(
    state: &AppState,
    row: &StreamRow,
    live: Option<&veza_actors::stream::LiveInfo>,
) -> Value {
    let variants: Vec<String> = state
        .config
        .stream_ladder
        .iter()
        .filter(|v| v.supported())
        .map(|v| v.to_string())
        .collect();
    json!({
        "id": row.id.to_string(),
        "title": row.title,
        "mount": row.mount,
        "owner_id": row.owner_id.to_string(),
        "room_id": row.room_id.map(|r| r.to_string()),
        "scheduled_at": row.scheduled_at,
        "created_at": row.created_at,
        "live": live.is_some(),
        "listeners": live.map(|l| l.listeners).unwrap_or(0),
        "hls_listeners": live.map(|l| l.hls_listeners).unwrap_or(0),
        "now_playing": live.map(|l| l.title.clone()),
        "live_since": live.map(|l| l.started_at),
        "variants": live.map(|l| serde_json::to_value(&l.variants).unwrap_or_default())
            .unwrap_or_else(|| json!(variants.iter().map(|v| json!({"name": v, "listeners": 0})).collect::<Vec<_>>())),
        "hls": format!("/hls/{}/master.m3u8", row.mount),
        "listen": variants.iter().map(|v| (v.clone(), json!(format!("/live/{}/{v}", row.mount)))).collect::<serde_json::Map<_, _>>(),
    })
}

pub(crate) async fn live_info(
    state: &AppState,
    mount: &str,
) -> Option<veza_actors::stream::LiveInfo> {
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
fn may_link(conn: &mut DbConnection, room: i64, who: &Authenticated) -> Result<(), ApiError> {
    let unknown = || invalid("room_id: no such room");
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

/// `POST /api/v2/streams`.
pub async fn create(
    Authorized(who, _): Authorized<StreamsCreate>,
    state: web::Data<AppState>,
    body: web::Json<CreateStream>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 128 || title.chars().any(char::is_control) {
        return Err(invalid(
            "title must be 1-128 characters without control characters",
        ));
    }
    let room_id = match &body.room_id {
        Some(r) => Some(
            r.parse::<i64>()
                .map_err(|_| invalid("room_id is not a room id"))?,
        ),
        None => None,
    };
    let (key, key_hash) = opaque::generate();
    let pool = state.pool.clone();
    let id = state.ids.next_id();
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
    let mut body = stream_json(&state, &row, None);
    body["stream_key"] = json!(key);
    body["ingest_url"] = json!(ingest_url(&state, &row.mount, &key));
    Ok(HttpResponse::Created().json(body))
}

/// `GET /api/v2/streams`.
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows = web::block(move || streams::list(&mut *pool.get()?, 200)).await??;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let live = live_info(&state, &row.mount).await;
        out.push(stream_json(&state, row, live.as_ref()));
    }
    Ok(HttpResponse::Ok().json(json!({"streams": out})))
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<StreamRow, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("no such stream"))?;
    let pool = state.pool.clone();
    web::block(move || streams::find(&mut *pool.get()?, id))
        .await??
        .ok_or_else(|| ApiError::not_found("no such stream"))
}

/// `GET /api/v2/streams/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
    let live = live_info(&state, &row.mount).await;
    let mut body = stream_json(&state, &row, live.as_ref());
    // Which node serves it: this one, another (its listener counts are there), or none.
    let node = match &live {
        Some(_) => Some(Owner {
            id: state.config.node_id,
            url: state.config.base_url(),
        }),
        None => state.stream_elsewhere(&row.mount).await,
    };
    if node.is_some() {
        body["live"] = json!(true);
    }
    body["node"] = json!(node);
    Ok(HttpResponse::Ok().json(body))
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

/// `POST /api/v2/streams/{id}/key`: a new stream key; the old one stops working, and a source
/// live with it is taken off air at its next recheck (`ingest/recheck.rs`).
pub async fn rotate_key(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
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
    Ok(HttpResponse::Ok()
        .json(json!({"stream_key": key, "ingest_url": ingest_url(&state, &row.mount, &key)})))
}

/// `PUT /api/v2/streams/{id}/metadata` `{"title"}`: the now-playing title (ICY StreamTitle).
pub async fn metadata(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Metadata>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
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
