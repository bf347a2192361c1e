//! A real server on a random port inside the test's actix system, and a real WebSocket client.
#![allow(dead_code)]

use super::TestDb;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veza::auth::ClientInfo;
use veza::config::Config;
use veza::http::AppState;
use veza_actors::{RoomId, UserId};

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
}

/// A registered user: id, name and a valid access token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub name: String,
    pub token: String,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, db.config()).await
    }

    pub async fn start_with(db: &TestDb, mut config: Config) -> Self {
        // The Icecast-protocol ingest listener, on its own random port like the HTTP one.
        let ingest = std::net::TcpListener::bind("127.0.0.1:0").expect("bind ingest");
        ingest.set_nonblocking(true).expect("nonblocking");
        config.ingest_bind = ingest.local_addr().expect("ingest addr");
        // Bound before the state is built, so links built from `bind` (OAuth redirect URIs) are
        // this server's.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        config.bind = addr;
        let redis = config.redis_url.clone();
        let mut state = db.state_with(config);
        if let Some(url) = redis {
            // As `veza serve` does: limits shared through Redis.
            let log = slog::Logger::root(slog::Discard, slog::o!());
            let limits = veza::server::shared_limits(&state.config, &url, log)
                .await
                .expect("Redis must run at the configured URL (scripts/services.sh starts it)");
            state.limits = std::sync::Arc::new(limits);
        }
        let ingest = tokio::net::TcpListener::from_std(ingest).expect("tokio listener");
        actix_rt::spawn(veza::ingest::icecast::serve(ingest, state.clone()));
        // As `veza serve` does: every enabled AutoDJ kept on air.
        actix_rt::spawn(veza::autodj::keeper::run(state.clone()));
        let app_state = state.clone();
        let settings = app_state.clone();
        // The same connection settings as `veza serve` (src/server.rs).
        let server = veza::server::http_settings(
            actix_web::HttpServer::new(move || veza::http::app(app_state.clone())),
            &settings,
            1,
        )
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        TestServer {
            addr,
            state,
            handle,
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// Registers a user straight through the auth service.
    pub async fn user(&self, name: &str) -> TestUser {
        let auth = self.state.auth.clone();
        let n = name.to_owned();
        let issued = actix_web::web::block(move || {
            auth.register(&n, "correct horse battery", None, &ClientInfo::default())
        })
        .await
        .unwrap()
        .expect("register");
        TestUser {
            id: issued.user.id.0,
            name: name.to_owned(),
            token: issued.access_token,
        }
    }

    /// A user with a global role (registered, then given the role in the store; the role is read
    /// on every request, so the token works with it at once).
    pub async fn user_with_role(&self, name: &str, role: veza::auth::Role) -> TestUser {
        let user = self.user(name).await;
        let pool = self.state.pool.clone();
        let id = user.id;
        actix_web::web::block(move || {
            veza::db::users::set_role(&mut pool.get().unwrap(), UserId(id), role.as_str(), 1)
        })
        .await
        .unwrap()
        .expect("set role");
        user
    }

    /// Creates a room owned by `owner` straight in the store.
    pub async fn room(&self, owner: &TestUser, name: &str, private: bool) -> String {
        let pool = self.state.pool.clone();
        let owner = UserId(owner.id);
        let name = name.to_owned();
        let id = RoomId(self.state.ids.next_id());
        actix_web::web::block(move || {
            veza::db::rooms::create(&mut pool.get().unwrap(), id, &name, None, private, owner, 1)
        })
        .await
        .unwrap()
        .expect("create room");
        id.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Opens an authenticated WebSocket.
    pub async fn ws(&self, user: &TestUser) -> Ws {
        self.ws_with(&format!("Bearer {}", user.token)).await
    }

    /// Opens a WebSocket with this `Authorization` header (`Bearer ...`, `Bot ...`).
    pub async fn ws_with(&self, authorization: &str) -> Ws {
        let mut req = self.url("/ws").into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", authorization.parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws { stream }
    }
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

const WAIT: Duration = Duration::from_secs(10);

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::text(frame.to_string()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.stream
            .send(Message::text(text.to_owned()))
            .await
            .expect("ws send");
    }

    /// The next JSON frame (pings and pongs skipped). Panics on close or after 10 s.
    pub async fn recv(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("no frame within 10 s");
            match next {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("JSON frame"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame of `kind`, skipping presence/typing and anything else.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
            if frame["type"] == "error" && kind != "error" {
                panic!("expected {kind}, got error {frame}");
            }
        }
    }

    /// The next frame of one of `kinds`.
    pub async fn recv_type_any(&mut self, kinds: &[&str]) -> Value {
        loop {
            let frame = self.recv().await;
            if kinds.iter().any(|k| frame["type"] == *k) {
                return frame;
            }
        }
    }

    /// Nothing but pings, presence and typing for `ms`: returns the frames that did arrive.
    pub async fn quiet(&mut self, ms: u64) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "presence" && v["type"] != "typing" {
                    got.push(v);
                }
            }
        }
        got
    }

    /// Waits for the server to close; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(20), self.stream.next())
                .await
                .expect("no close within 20 s");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn join(&mut self, room: &str) -> Value {
        self.send(json!({"type": "join", "room": room})).await;
        self.recv_type("joined").await
    }

    /// Sends a message and waits for its ack; returns the acked message.
    pub async fn say(&mut self, room: &str, body: &str, client_id: &str) -> Value {
        self.send(json!({"type": "send", "room": room, "body": body, "client_id": client_id}))
            .await;
        let ack = self.recv_type("ack").await;
        assert_eq!(ack["client_id"], client_id, "{ack}");
        ack["message"].clone()
    }

    pub async fn close(&mut self) {
        let _ = self
            .stream
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await;
    }
}

impl TestServer {
    /// A WebSocket whose socket has a tiny receive buffer, for slow-consumer tests.
    pub async fn ws_small_buffer(&self, user: &TestUser) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(self.addr).await.unwrap();
        let mut req = self.url("/ws").into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", user.token).parse().unwrap(),
        );
        let (stream, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
            .await
            .expect("ws connect");
        Ws { stream }
    }

    /// How many connections the registry holds.
    pub async fn connections(&self) -> u64 {
        self.state
            .registry
            .send(veza_actors::Stats)
            .await
            .unwrap()
            .connections
    }

    /// How many connections a room has online (0 if the room is not running).
    pub async fn online_in(&self, room: &str) -> usize {
        let id = veza_actors::RoomId(room.parse().unwrap());
        match self
            .state
            .registry
            .send(veza_actors::registry::PeekRoom(id))
            .await
            .unwrap()
        {
            Some(addr) => addr.send(veza_actors::room::OnlineCount).await.unwrap(),
            None => 0,
        }
    }
}

/// A config with overrides, for tests that need other limits.
pub fn config_with(db: &TestDb, pairs: &[(&str, &str)]) -> Config {
    let base = db.config();
    let url = base.database_url.clone();
    let data_dir = base.data_dir.display().to_string();
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The overrides win, so a production-mode test can bring a secret production accepts.
    Config::load(None, move |name| {
        let given = pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        given.or_else(|| match name {
            "VEZA_DATABASE_URL" => Some(url.clone()),
            "VEZA_JWT_SECRET" => Some(super::TEST_SECRET.to_owned()),
            "VEZA_DATA_DIR" => Some(data_dir.clone()),
            _ => None,
        })
    })
    .expect("test config")
}

/// Alice and Bob, both online in a fresh public room "general" that Alice owns.
pub struct Duo {
    pub alice: TestUser,
    pub bob: TestUser,
    pub room: String,
    pub a: Ws,
    pub b: Ws,
}

impl TestServer {
    pub async fn duo(&self) -> Duo {
        let alice = self.user("alice").await;
        let bob = self.user("bob").await;
        let room = self.room(&alice, "general", false).await;
        let mut a = self.ws(&alice).await;
        let mut b = self.ws(&bob).await;
        a.join(&room).await;
        b.join(&room).await;
        Duo {
            alice,
            bob,
            room,
            a,
            b,
        }
    }
}

/// A REST call with `user`'s access token.
pub async fn as_user(
    server: &TestServer,
    user: &TestUser,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> super::http::Reply {
    let auth = format!("Bearer {}", user.token);
    super::http::call(
        server.addr,
        method,
        path,
        &[("Authorization", &auth)],
        body.as_ref(),
    )
    .await
}

impl Ws {
    /// Sends `body` (a slash command for a bot) until the room says it went out (the bot may not
    /// be registered or known online yet: each try is answered with a notice or an error), for at
    /// most `within`; returns how many tries it took.
    pub async fn invoke_until_sent(&mut self, room: &str, body: &str, within: Duration) -> usize {
        let deadline = std::time::Instant::now() + within;
        let mut n = 0;
        loop {
            n += 1;
            self.send(json!({"type": "send", "room": room, "body": body,
                             "client_id": format!("try-{n}")}))
                .await;
            let answer = self.recv_type_any(&["notice", "error"]).await;
            if answer["body"]
                .as_str()
                .is_some_and(|b| b.contains(" sent to @"))
            {
                return n;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{body} never went out: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `owner` makes bot `name` over REST; its id and its token (shown this once).
pub async fn make_bot(server: &TestServer, owner: &TestUser, name: &str) -> (String, String) {
    let made = as_user(
        server,
        owner,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": name})),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.body["bot"]["id"].as_str().expect("id").to_owned();
    let token = made.body["token"].as_str().expect("token").to_owned();
    (id, token)
}
