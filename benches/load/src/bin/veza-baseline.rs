//! The near-limit baseline for the chat benchmark: a minimal tokio-tungstenite broadcast server
//! speaking the same JSON subset as Veza (join, send -> ack + message) with no auth, no storage
//! and no limits. Whatever it costs per delivery is the floor Veza is compared against.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Outbox = mpsc::UnboundedSender<Message>;

#[derive(Default)]
struct Room {
    seq: i64,
    members: HashMap<u64, Outbox>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9090".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("baseline listening on {addr}");
    let rooms: Arc<Mutex<HashMap<String, Room>>> = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (tcp, _) = listener.accept().await?;
        next_id += 1;
        let id = next_id;
        let rooms = rooms.clone();
        tokio::spawn(async move {
            // Small buffers, as a memory-conscious server would use (tungstenite defaults to 128 KiB).
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
            else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
            tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    if sink.send(msg).await.is_err() {
                        break;
                    }
                }
            });
            let mut joined: Vec<String> = Vec::new();
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match frame["type"].as_str() {
                    Some("join") => {
                        let room = frame["room"].as_str().unwrap_or("0").to_owned();
                        let mut rooms = rooms.lock().unwrap();
                        let r = rooms.entry(room.clone()).or_default();
                        r.members.insert(id, tx.clone());
                        let reply = json!({"type": "joined", "room": room, "seq": r.seq, "members": [], "messages": []});
                        let _ = tx.send(Message::text(reply.to_string()));
                        joined.push(room);
                    }
                    Some("send") => {
                        let room = frame["room"].as_str().unwrap_or("0").to_owned();
                        let mut rooms = rooms.lock().unwrap();
                        let Some(r) = rooms.get_mut(&room) else {
                            continue;
                        };
                        r.seq += 1;
                        let message = json!({"id": r.seq.to_string(), "room": room, "seq": r.seq, "kind": "user",
                            "author": {"id": id.to_string(), "username": "u"}, "body": frame["body"], "thread": null,
                            "created_at": 0, "edited_at": null, "reactions": []});
                        let ack = json!({"type": "ack", "client_id": frame["client_id"], "message": message});
                        let _ = tx.send(Message::text(ack.to_string()));
                        let event = Message::text(
                            json!({"type": "message", "room": room, "message": message})
                                .to_string(),
                        );
                        for member in r.members.values() {
                            let _ = member.send(event.clone());
                        }
                    }
                    Some("ping") => {
                        let _ = tx.send(Message::text(r#"{"type":"pong"}"#));
                    }
                    _ => {}
                }
            }
            let mut rooms = rooms.lock().unwrap();
            for room in joined {
                if let Some(r) = rooms.get_mut(&room) {
                    r.members.remove(&id);
                }
            }
        });
    }
}
