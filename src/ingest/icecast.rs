//! The Icecast source protocol on its own port (`VEZA_INGEST_BIND`, default 8000).
//!
//! Source clients send a request head, then raw audio with no length and no chunking until they
//! close: `PUT /live/MOUNT` with `Expect: 100-continue` (ffmpeg, modern Icecast clients) or the
//! legacy `SOURCE /live/MOUNT`. HTTP frameworks see an empty body there, so this speaks the
//! protocol itself: read the head, check it, answer `100 Continue` / `200 OK`, then copy the socket
//! into the stream session until EOF. Icecast's `GET /admin/metadata?mode=updinfo` is served too,
//! and listeners (`GET /live/MOUNT/VARIANT`, see `listeners.rs`), as on an Icecast server.

use super::admission::{accept_backoff, Admission};
use super::head::{read_head, Head};
use super::listeners::Listener;
use super::{open, IngestError};
use crate::http::error::{ApiError, ErrorBody};
use crate::limits::held::Full;
use crate::state::AppState;
use actix_web::http::StatusCode;
use bytes::{Bytes, BytesMut};
use slog::{debug, info, warn};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use veza_actors::registry::FindStream;
use veza_actors::stream::SetTitle;

/// Accepts sources and listeners, within the port's connection caps (`admission.rs`).
pub async fn serve(listener: TcpListener, state: AppState) {
    let gate = Admission::new(
        state.config.ingest_max_connections,
        state.config.ingest_max_per_ip,
    );
    let mut failures = 0;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => {
                if failures > 0 {
                    info!(state.log, "ingest accept recovered"; "failures" => failures);
                    failures = 0;
                }
                accepted
            }
            Err(e) => {
                // Out of file descriptors (or memory): wait for some to come back, don't spin.
                if failures == 0 {
                    warn!(state.log, "ingest accept failed; backing off"; "error" => e.to_string());
                }
                tokio::time::sleep(accept_backoff(failures)).await;
                failures = failures.saturating_add(1);
                continue;
            }
        };
        let permit = match gate.enter(peer.ip()) {
            Ok(permit) => permit,
            Err(full) => {
                turn_away(tcp, full);
                continue;
            }
        };
        let state = state.clone();
        actix_web::rt::spawn(async move {
            match handle(tcp, &state).await {
                // A listener goes on in a task of its own, without the server's state.
                Ok(Some(listener)) => drop(actix_web::rt::spawn(listener.run(permit))),
                Ok(None) => {}
                Err(e) => {
                    debug!(state.log, "ingest connection ended"; "peer" => peer.to_string(), "error" => e.to_string())
                }
            }
        });
    }
}

/// A connection over a cap gets a 503 if its buffer takes it right away, and is closed: nothing
/// here waits on it.
fn turn_away(tcp: TcpStream, full: Full) {
    let message = match full {
        Full::Total => "this port holds as many connections as it takes; retry later",
        Full::PerKey => "too many connections from your address",
    };
    let e = IngestError::Busy(message.into());
    // What already arrived of the request is read and dropped first: a socket closed with unread
    // bytes sends a reset, and the client's kernel may then discard the 503 before it is read.
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match tcp.try_read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    let _best_effort = tcp.try_write(response(&e).as_bytes());
}

fn head(status: u16, reason: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: Veza\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn refuse(tcp: &mut TcpStream, e: &IngestError) -> std::io::Result<()> {
    tcp.write_all(response(e).as_bytes()).await
}

/// The whole HTTP response for a refusal: the status, challenge and body the main port's
/// `PUT /live/{mount}` would send (`http::error` maps them).
fn response(e: &IngestError) -> String {
    let api = ApiError::from(e);
    let mut extra = String::new();
    if api.status == StatusCode::UNAUTHORIZED {
        extra.push_str(&format!("WWW-Authenticate: {}\r\n", api.challenge.header()));
    }
    if let Some(secs) = api.retry_after_s {
        extra.push_str(&format!("Retry-After: {secs}\r\n"));
    }
    let body = ErrorBody::new(api.code, &api.message).to_json();
    head(
        api.status.as_u16(),
        api.status.canonical_reason().unwrap_or("Error"),
        &extra,
        &body,
    )
}

fn mount_of(path: &str) -> Option<&str> {
    let path = path.split('?').next()?;
    let mount = path
        .strip_prefix("/live/")
        .or_else(|| path.strip_prefix('/'))?;
    (!mount.is_empty() && !mount.contains('/')).then_some(mount)
}

/// Serves a connection's request; a listener's is returned to run on its own.
async fn handle(mut tcp: TcpStream, state: &AppState) -> std::io::Result<Option<Listener>> {
    // One deadline for the whole head, however slowly it drips in (slowloris).
    let deadline = Duration::from_millis(state.config.ingest_head_timeout_ms);
    let (head, leftover) = tokio::time::timeout(deadline, read_head(&mut tcp))
        .await
        .map_err(|_| std::io::Error::other("the request head took too long"))??;
    if head.method == "GET" && head.path.starts_with("/admin/metadata") {
        return metadata(&mut tcp, state, &head).await.map(|()| None);
    }
    if head.method == "GET" {
        if let Some((mount, variant)) = super::listeners::listen_path(&head.path) {
            drop(leftover);
            return super::listeners::open(tcp, state, &head, mount, variant).await;
        }
    }
    ingest(tcp, state, head, leftover).await.map(|()| None)
}

/// A source: checked, then copied into its stream session until it leaves.
async fn ingest(
    mut tcp: TcpStream,
    state: &AppState,
    head: Head,
    leftover: BytesMut,
) -> std::io::Result<()> {
    if head.method != "PUT" && head.method != "SOURCE" {
        let e =
            IngestError::BadRequest("this port takes sources (PUT or SOURCE /live/MOUNT) and listeners (GET /live/MOUNT/VARIANT)".into());
        return refuse(&mut tcp, &e).await;
    }
    let Some(mount) = mount_of(&head.path) else {
        return refuse(&mut tcp, &IngestError::UnknownMount).await;
    };
    let auth = head.headers.get("authorization").map(String::as_str);
    let content_type = head.headers.get("content-type").map(String::as_str);
    let source = match open(state, mount, auth, content_type).await {
        Ok(s) => s,
        Err(e) => return refuse(&mut tcp, &e).await,
    };
    if head
        .headers
        .get("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        tcp.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let ok = if head.method == "SOURCE" {
        "HTTP/1.0 200 OK\r\nServer: Veza\r\n\r\n"
    } else {
        "HTTP/1.1 200 OK\r\nServer: Veza\r\n\r\n"
    };
    tcp.write_all(ok.as_bytes()).await?;
    info!(state.log, "source connected"; "mount" => mount, "method" => &head.method);
    if !leftover.is_empty() && source.input.send(leftover.freeze()).await.is_err() {
        return Ok(());
    }
    loop {
        let mut chunk = BytesMut::with_capacity(16 * 1024);
        // A source that goes silent for a minute is gone.
        let n = match tokio::time::timeout(Duration::from_secs(60), tcp.read_buf(&mut chunk)).await
        {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => 0,
        };
        // A session that is gone (it crashed) ends the source too: the client may reconnect.
        if n == 0 || !source.session.connected() {
            break;
        }
        if let Some(why) = source.revoked() {
            info!(state.log, "source ended"; "mount" => mount, "reason" => why);
            break;
        }
        // An error here means the session refused the input (not audio): stop reading.
        if source.input.send(Bytes::from(chunk)).await.is_err() {
            break;
        }
    }
    info!(state.log, "source disconnected"; "mount" => mount);
    Ok(())
}

/// Icecast's `GET /admin/metadata?mount=/MOUNT&mode=updinfo&song=TITLE`, with the source's
/// credentials.
async fn metadata(tcp: &mut TcpStream, state: &AppState, head: &Head) -> std::io::Result<()> {
    let query = head.path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mount = params.get("mount").map(|m| {
        m.trim_start_matches('/')
            .trim_start_matches("live/")
            .to_owned()
    });
    let (Some(mount), Some("updinfo"), Some(song)) = (
        mount,
        params.get("mode").map(String::as_str),
        params.get("song"),
    ) else {
        return refuse(
            tcp,
            &IngestError::BadRequest("use mount=/MOUNT&mode=updinfo&song=TITLE".into()),
        )
        .await;
    };
    let auth = head.headers.get("authorization").map(String::as_str);
    if let Err(e) = super::check_key(state, &mount, auth).await {
        return refuse(tcp, &e).await;
    }
    match state.registry.send(FindStream(mount)).await.ok().flatten() {
        Some(session) => {
            session.do_send(SetTitle(song.chars().take(255).collect()));
            let body = "<?xml version=\"1.0\"?>\n<iceresponse><message>Metadata update successful</message><return>1</return></iceresponse>\n";
            let head = format!("HTTP/1.1 200 OK\r\nServer: Veza\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            tcp.write_all(head.as_bytes()).await
        }
        None => {
            refuse(
                tcp,
                &IngestError::BadRequest("the mount is not live".into()),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mount_of;

    #[test]
    fn mounts_come_from_the_path() {
        assert_eq!(mount_of("/live/jazz"), Some("jazz"));
        assert_eq!(mount_of("/jazz"), Some("jazz"));
        assert_eq!(mount_of("/live/jazz?x=1"), Some("jazz"));
        assert_eq!(mount_of("/live/"), None);
        assert_eq!(mount_of("/live/a/b"), None);
    }
}
