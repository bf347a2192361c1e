//! An example Veza bot: signs in with its bot token over the same WebSocket protocol as a person,
//! joins the rooms it is given (it must have been `/invite`d to them), registers `/roll` and
//! `/flip` there, and answers them. It reconnects (and registers again) when the connection drops.
//!
//! ```text
//! VEZA_URL=ws://127.0.0.1:8080 VEZA_BOT_TOKEN=veza_bot_... cargo run --example bot -- ROOM_ID...
//! ```
//!
//! A member typing `/roll 2d6` gets "@alice rolled 2d6: 3 + 5 = 8" from the bot, in the room; a
//! `/roll` the bot cannot read gets its usage back privately (a `command_reply` to the `command`'s
//! id: only the member who asked sees it).

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("VEZA_URL").unwrap_or_else(|_| "ws://127.0.0.1:8080".into());
    let Ok(token) = std::env::var("VEZA_BOT_TOKEN") else {
        eprintln!("set VEZA_BOT_TOKEN to the bot's token (veza_bot_...)");
        std::process::exit(2);
    };
    let rooms: Vec<String> = std::env::args().skip(1).collect();
    if rooms.is_empty() {
        eprintln!("usage: bot ROOM_ID... (rooms the bot was invited to)");
        std::process::exit(2);
    }
    let mut dice = Dice::seeded();
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Err(e) = run(&url, &token, &rooms, &mut dice, &mut backoff).await {
            eprintln!("bot: {e}; reconnecting in {backoff:?}");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One connection: join, register, answer until it closes (an error). A connection that was made
/// resets the reconnect backoff.
async fn run(
    url: &str,
    token: &str,
    rooms: &[String],
    dice: &mut Dice,
    backoff: &mut Duration,
) -> Result<(), String> {
    let mut request = format!("{}/ws", url.trim_end_matches('/'))
        .into_client_request()
        .map_err(|e| format!("bad VEZA_URL: {e}"))?;
    let auth = HeaderValue::from_str(&format!("Bot {token}")).map_err(|e| e.to_string())?;
    request.headers_mut().insert("Authorization", auth);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    *backoff = Duration::from_millis(500);
    for room in rooms {
        send(&mut ws, json!({"type": "join", "room": room})).await?;
        send(
            &mut ws,
            json!({"type": "register_commands", "room": room, "commands": [
                {"name": "roll", "description": "roll dice", "args": "NdM"},
                {"name": "flip", "description": "flip a coin"},
            ]}),
        )
        .await?;
    }
    let mut answered = 0u64;
    while let Some(frame) = ws.next().await {
        let text = match frame.map_err(|e| e.to_string())? {
            Message::Text(t) => t,
            Message::Close(close) => return Err(format!("closed: {close:?}")),
            _ => continue,
        };
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match event["type"].as_str() {
            Some("command") => {
                let (Some(room), Some(name)) = (event["room"].as_str(), event["command"].as_str())
                else {
                    continue;
                };
                let who = event["user"]["username"].as_str().unwrap_or("someone");
                let args = event["args"].as_str().unwrap_or("");
                let (reply, private) = answer(dice, who, name, args);
                answered += 1;
                let frame = if private {
                    json!({"type": "command_reply", "room": room, "command": event["id"],
                           "body": reply})
                } else {
                    json!({"type": "send", "room": room, "body": reply,
                           "client_id": format!("bot-{}-{answered}", dice.next())})
                };
                send(&mut ws, frame).await?;
            }
            Some("commands_registered") => {
                println!(
                    "registered in room {}",
                    event["room"].as_str().unwrap_or("?")
                );
            }
            Some("error") => eprintln!("bot: server said {}", event["message"]),
            _ => {}
        }
    }
    Err("connection ended".into())
}

async fn send(ws: &mut Socket, frame: Value) -> Result<(), String> {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| format!("sending: {e}"))
}

/// The bot's reply to `/name args` from `who`, and whether only `who` should see it.
fn answer(dice: &mut Dice, who: &str, name: &str, args: &str) -> (String, bool) {
    match name {
        "flip" => {
            let side = if dice.below(2) == 0 { "heads" } else { "tails" };
            (format!("@{who} flipped a coin: {side}"), false)
        }
        "roll" => match parse_dice(args) {
            Some((n, sides)) => {
                let rolls: Vec<u64> = (0..n).map(|_| dice.below(sides) + 1).collect();
                let total: u64 = rolls.iter().sum();
                let shown: Vec<String> = rolls.iter().map(u64::to_string).collect();
                let said = format!("@{who} rolled {n}d{sides}: {} = {total}", shown.join(" + "));
                (said, false)
            }
            None => (
                "usage: /roll NdM, e.g. /roll 2d6 (N up to 20, M up to 1000)".to_owned(),
                true,
            ),
        },
        other => (format!("I do not know /{other}"), true),
    }
}

/// `NdM` (or empty: one six-sided die), bounded.
fn parse_dice(args: &str) -> Option<(u64, u64)> {
    let args = args.trim();
    if args.is_empty() {
        return Some((1, 6));
    }
    let (n, m) = args.to_ascii_lowercase().split_once('d').map(|(n, m)| {
        let n = if n.is_empty() { Ok(1) } else { n.parse() };
        (n, m.parse())
    })?;
    match (n, m) {
        (Ok(n), Ok(m)) if (1..=20).contains(&n) && (2..=1000).contains(&m) => Some((n, m)),
        _ => None,
    }
}

/// xorshift64*: fair enough for dice, no dependency.
struct Dice(u64);

impl Dice {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Dice(nanos | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
