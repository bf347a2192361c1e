//! Listeners on the Icecast port, as Icecast serves them: `GET /live/MOUNT/VARIANT` answered with
//! an HTTP/1.0 head (`icy-*` headers, no chunking), then the shared encoded chunks written straight
//! to the socket. No per-listener copy or HTTP framework buffers: this is the cheap path for
//! thousands of listeners. What is sent (headers, burst, ICY, lag policy) is the listener core's
//! (`veza_actors::stream::listener`), shared with `/live/MOUNT/VARIANT` on the main port; this
//! adapter only writes it, and drops a socket that takes nothing for 10 s.

use super::head::Head;
use crate::state::AppState;
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

async fn write(tcp: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, tcp.write_all(data))
        .await
        .map_err(|_| std::io::Error::other("listener stopped reading"))?
}

pub async fn serve(
    mut tcp: TcpStream,
    state: &AppState,
    head: &Head,
    mount: &str,
    variant: &str,
) -> std::io::Result<()> {
    let Ok(variant) = variant.parse::<Variant>() else {
        return not_found(&mut tcp, "no such variant").await;
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
            return tcp.write_all(reply.as_bytes()).await;
        }
        return not_found(&mut tcp, "this mount is not live").await;
    };
    let Some(listening) = session.send(Listen(variant)).await.ok().flatten() else {
        return not_found(&mut tcp, "this variant is not produced for this stream").await;
    };
    drop(session);
    let wants_icy = head.headers.get("icy-metadata").map(String::as_str) == Some("1");
    let mut feed = ListenerFeed::new(listening, wants_icy);
    // Ends (reported to the session log) when this function returns.
    let _session = state.analytics.listening(mount, variant);
    let mut response = String::from("HTTP/1.0 200 OK\r\nServer: Veza\r\n");
    for (name, value) in feed.headers() {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    write(&mut tcp, response.as_bytes()).await?;
    while let Some(chunk) = feed.next().await {
        write(&mut tcp, &chunk).await?;
    }
    Ok(())
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
