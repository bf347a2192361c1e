//! Accepting live sources: the checks shared by the Icecast-protocol listener (`icecast.rs`) and the
//! chunked `PUT /live/{mount}` on the main port, and the start of the stream session.

mod admission;
pub mod head;
pub mod icecast;
pub mod listeners;
mod recheck;

use crate::auth::opaque;
use crate::auth::permission::grants;
use crate::auth::Role;
use crate::autodj::programmes::AttachLive;
use crate::cluster::LeaseGuard;
use crate::db::{streams, users, DbError};
use crate::state::AppState;
use actix::Addr;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use thiserror::Error;
use tokio::sync::mpsc;
use veza_actors::permission::Permission;
use veza_actors::registry::{FindStream, StartBroadcast};
use veza_actors::stream::decode::extension_for;
use veza_actors::stream::StreamSession;

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("wrong or missing credentials: use user `source` and the stream key")]
    Unauthorized,
    #[error("no stream has this mount")]
    UnknownMount,
    #[error("a source is already live on this mount")]
    MountInUse,
    #[error(
        "the stream's owner may not broadcast (disabled, or a role without streams.broadcast)"
    )]
    NotAllowed,
    #[error("unsupported Content-Type {0:?}: use audio/mpeg, audio/aac, audio/ogg, audio/wav or audio/flac")]
    UnsupportedType(String),
    #[error("{0}")]
    BadRequest(String),
    /// The ingest port's connection caps.
    #[error("{0}")]
    Busy(String),
    #[error("the store is unavailable")]
    Store(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A source that went live: write its bytes into `input`; dropping it ends the broadcast (and
/// releases the stream's lease).
pub struct Source {
    pub input: mpsc::Sender<Bytes>,
    pub session: Addr<StreamSession>,
    _lease: Option<LeaseGuard>,
    /// Set when the source may no longer broadcast (`recheck.rs`).
    revoked: tokio::sync::watch::Receiver<Option<String>>,
}

impl Source {
    /// Why this source must leave the air now, if it must: each ingest loop asks after every
    /// read and ends the connection.
    pub fn revoked(&self) -> Option<String> {
        self.revoked.borrow().clone()
    }
}

/// The stream key from `Authorization: Basic base64(source:KEY)`.
fn basic_password(authorization: Option<&str>) -> Option<String> {
    let encoded = authorization?.trim().strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, key) = decoded.split_once(':')?;
    (user == "source" && !key.is_empty()).then(|| key.to_owned())
}

/// The stream on `mount` if the Basic credentials carry its key.
pub async fn check_key(
    state: &AppState,
    mount: &str,
    authorization: Option<&str>,
) -> Result<streams::StreamRow, IngestError> {
    check_stream_key(state, mount, basic_password(authorization)).await
}

/// The stream on `mount` if `key` is its stream key.
pub async fn check_stream_key(
    state: &AppState,
    mount: &str,
    key: Option<String>,
) -> Result<streams::StreamRow, IngestError> {
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or(IngestError::Unauthorized)?;
    let pool = state.pool.clone();
    let m = mount.to_owned();
    let (row, owner) = actix_web::web::block(move || {
        let conn = &mut *pool.get()?;
        let Some(row) = streams::find_by_mount(conn, &m)? else {
            return Ok::<_, DbError>(None);
        };
        let owner = users::find_by_id(conn, row.owner_id)?;
        Ok(Some((row, owner)))
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))??
    .ok_or(IngestError::UnknownMount)?;
    if !opaque::matches(&key, &row.key_hash) {
        return Err(IngestError::Unauthorized);
    }
    // The key is right; the owner must still be allowed on air.
    let allowed = owner.is_some_and(|o| {
        !o.disabled
            && o.role
                .parse::<Role>()
                .is_ok_and(|role| grants(role, &state.config).allows(Permission::StreamsBroadcast))
    });
    if !allowed {
        return Err(IngestError::NotAllowed);
    }
    Ok(row)
}

/// Checks a source's credentials and format, then starts its broadcast.
pub async fn open(
    state: &AppState,
    mount: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
) -> Result<Source, IngestError> {
    open_with_key(state, mount, basic_password(authorization), content_type).await
}

/// [`open`] with the stream key itself (the WebSocket ingest takes it from the query string,
/// since browsers cannot set an Authorization header on a WebSocket).
pub async fn open_with_key(
    state: &AppState,
    mount: &str,
    key: Option<String>,
    content_type: Option<&str>,
) -> Result<Source, IngestError> {
    let row = check_stream_key(state, mount, key.clone()).await?;
    let content_type = content_type.unwrap_or("").to_owned();
    let extension =
        extension_for(&content_type).ok_or(IngestError::UnsupportedType(content_type))?;
    // The AutoDJ plays this mount here: the source takes over from it (and gives the air back).
    if let Some(attached) = state
        .programmes
        .send(AttachLive {
            mount: row.mount.clone(),
            extension,
        })
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
    {
        let (input, session) = attached.map_err(|_| IngestError::MountInUse)?;
        return Ok(Source {
            input,
            session,
            _lease: None,
            revoked: recheck::spawn(state, &row.mount, key.unwrap_or_default()),
        });
    }
    let lease = lease(state, &row.mount).await?;
    let started = state
        .registry
        .send(StartBroadcast {
            stream_id: row.id,
            room: row.room_id,
            mount: row.mount.clone(),
            title: row.title.clone(),
            extension,
            // A chain that no longer parses (an older format) starts the show dry, not off air.
            effects: serde_json::from_str(&row.effects).unwrap_or_default(),
        })
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
        .map_err(|_| IngestError::MountInUse)?;
    Ok(Source {
        input: started.input,
        session: started.session,
        _lease: lease,
        revoked: recheck::spawn(state, &row.mount, key.unwrap_or_default()),
    })
}

/// The mount's lease when nodes share Redis: refused like a second source on one node when it is
/// live here or another node holds it.
async fn lease(state: &AppState, mount: &str) -> Result<Option<LeaseGuard>, IngestError> {
    let Some(leases) = &state.leases else {
        return Ok(None);
    };
    let live_here = state
        .registry
        .send(FindStream(mount.to_owned()))
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
        .is_some();
    if live_here {
        return Err(IngestError::MountInUse);
    }
    leases
        .acquire(mount)
        .await
        .map(Some)
        .map_err(|_| IngestError::MountInUse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_needs_the_source_user() {
        let header = format!("Basic {}", STANDARD.encode("source:k3y"));
        assert_eq!(basic_password(Some(&header)).as_deref(), Some("k3y"));
        let other = format!("Basic {}", STANDARD.encode("admin:k3y"));
        assert_eq!(basic_password(Some(&other)), None);
        assert_eq!(basic_password(Some("Bearer x")), None);
        assert_eq!(basic_password(Some("Basic !!!")), None);
        assert_eq!(basic_password(None), None);
    }
}
