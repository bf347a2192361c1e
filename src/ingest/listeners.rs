//! Listeners on the Icecast port, as Icecast serves them: `GET /live/MOUNT/VARIANT` answered with
//! an HTTP/1.0 head (`icy-*` headers, no chunking), then the shared encoded chunks written straight
//! to the socket. No per-listener copy or HTTP framework buffers: this is the cheap path for
//! thousands of listeners. What is sent (headers, burst, ICY, lag policy) is the listener core's
//! (`veza_actors::stream::listener`), shared with `/live/MOUNT/VARIANT` on the main port; this
//! adapter only writes it, and drops a socket that takes nothing for 10 s.
//!
//! Memory: [`open`] runs in the connection's task (with the server's state, the request head and
//! the source path's code beside it); what it returns, a [`Listener`], runs in a task of its own
//! that holds only the socket, the feed, the analytics session and the port's place, so each of
//! 10,000 listeners costs a few hundred bytes of task. A write goes straight to the socket; only a
//! listener whose socket is full gets a (boxed) timer.

use super::head::Head;
use crate::analytics::ListenerSession;
use crate::limits::held::Permit;
use crate::state::AppState;
use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use veza_actors::registry::FindStream;
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::listener::ListenerFeed;
use veza_actors::stream::Listen;

/// A listener whose socket takes no data for this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// `(mount, variant)` from `/live/MOUNT/VARIANT`.
pub fn listen_path(path: &str) -> Option<(&str, &str)> {
    let path = path.split('?').next()?;
    let (mount, variant) = path.strip_prefix("/live/")?.split_once('/')?;
    (!mount.is_empty() && !variant.is_empty() && !variant.contains('/')).then_some((mount, variant))
}

async fn not_found(tcp: &mut TcpStream, message: &str) -> std::io::Result<()> {
    let body = crate::http::error::ErrorBody::new("not_found", message).to_json();
    let head = format!(
        "HTTP/1.0 404 Not Found\r\nServer: Veza\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await
}

/// Waits until a full socket takes data again, at most [`WRITE_TIMEOUT`]. Boxed: the timer exists
/// only while a listener's socket is full, not in every listener's task.
fn writable(tcp: &TcpStream) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + '_>> {
    Box::pin(async move {
        tokio::time::timeout(WRITE_TIMEOUT, tcp.writable())
            .await
            .map_err(|_| std::io::Error::other("listener stopped reading"))?
    })
}

/// Writes all of `data`: straight to the socket while it takes it.
async fn write(tcp: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match tcp.try_write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => writable(tcp).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A listener whose response head is written: what its own task holds.
pub struct Listener {
    tcp: TcpStream,
    feed: ListenerFeed,
    _session: ListenerSession,
}

impl Listener {
    /// Sends the audio until the broadcast ends, the listener leaves or falls behind; `_place` is
    /// the listener's place on the port, given back when this returns.
    pub async fn run(self, _place: Permit) {
        let Listener {
            tcp,
            mut feed,
            _session,
        } = self;
        while let Some(chunk) = feed.next().await {
            if write(&tcp, &chunk).await.is_err() {
                break;
            }
        }
    }
}

/// Answers a listener's request: a 404 or a 307 (`None`), or the response head, and the
/// [`Listener`] to run.
pub async fn open(
    mut tcp: TcpStream,
    state: &AppState,
    head: &Head,
    mount: &str,
    variant: &str,
) -> std::io::Result<Option<Listener>> {
    let Ok(variant) = variant.parse::<Variant>() else {
        not_found(&mut tcp, "no such variant").await?;
        return Ok(None);
    };
    let session = state
        .registry
        .send(FindStream(mount.to_owned()))
        .await
        .ok()
        .flatten();
    let Some(session) = session else {
        // Live on another node: send the listener to its main port (same path there).
        if let Some(owner) = state.stream_elsewhere(mount).await {
            let location = format!("{}/live/{mount}/{variant}", owner.url.trim_end_matches('/'));
            let reply = format!(
                "HTTP/1.0 307 Temporary Redirect\r\nServer: Veza\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            tcp.write_all(reply.as_bytes()).await?;
            return Ok(None);
        }
        not_found(&mut tcp, "this mount is not live").await?;
        return Ok(None);
    };
    let Some(listening) = session.send(Listen(variant)).await.ok().flatten() else {
        not_found(&mut tcp, "this variant is not produced for this stream").await?;
        return Ok(None);
    };
    drop(session);
    let wants_icy = head.headers.get("icy-metadata").map(String::as_str) == Some("1");
    let feed = ListenerFeed::new(listening, wants_icy);
    // Ends (reported to the session log) when the listener's task ends.
    let session = state.analytics.listening(mount, variant);
    let mut response = String::from("HTTP/1.0 200 OK\r\nServer: Veza\r\n");
    for (name, value) in feed.headers() {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    write(&tcp, response.as_bytes()).await?;
    Ok(Some(Listener {
        tcp,
        feed,
        _session: session,
    }))
}

#[cfg(test)]
mod tests {
    use super::listen_path;

    #[test]
    fn listener_paths_name_a_mount_and_a_variant() {
        assert_eq!(listen_path("/live/jazz/mp3-128"), Some(("jazz", "mp3-128")));
        assert_eq!(
            listen_path("/live/jazz/mp3-128?x"),
            Some(("jazz", "mp3-128"))
        );
        assert_eq!(listen_path("/live/jazz"), None);
        assert_eq!(listen_path("/live/jazz/a/b"), None);
        assert_eq!(listen_path("/jazz/mp3-128"), None);
    }
}
