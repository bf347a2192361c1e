//! The multi-node harness: N real `veza serve` processes on one fresh database and one Redis
//! (the shared one under a fresh key prefix, or a Redis this test starts on a free port so it can
//! stop it), each with its own node id, ports and data dir. Clients talk to the nodes over real
//! HTTP and WebSockets, as they would behind a load balancer.
#![allow(dead_code)]

use super::process::{free_port, json_call, request, signal, veza, wait_exit, wait_until_up};
use super::server::Ws;
use super::{Kind, TestDb};
use rand::Rng;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A Redis server of the test's own, on a free port (stopped on drop).
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> Self {
        let mut redis = OwnRedis {
            port: free_port(),
            child: None,
        };
        redis.resume();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/deps.sh test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (kill -9: clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-KILL");
            wait_exit(&mut child);
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Node {
    pub id: u16,
    pub port: u16,
    pub ingest_port: u16,
    child: Option<Child>,
}

impl Node {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub struct Cluster {
    pub db: TestDb,
    pub redis_url: String,
    pub prefix: String,
    pub nodes: Vec<Node>,
    extra_env: Vec<(String, String)>,
}

/// A user registered over HTTP: id, name, access and refresh token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub token: String,
    pub refresh: String,
}

impl Cluster {
    /// `n` nodes on a fresh database of `kind` and the shared Redis under a fresh prefix.
    pub fn start(kind: Kind, n: usize) -> Self {
        let url = std::env::var("VEZA_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Self::start_on(kind, n, &url, &[])
    }

    pub fn start_on(kind: Kind, n: usize, redis_url: &str, env: &[(&str, &str)]) -> Self {
        let mut cluster = Cluster {
            db: TestDb::new(kind),
            redis_url: redis_url.to_owned(),
            prefix: format!("veza_test_{:012x}", rand::thread_rng().gen::<u64>() >> 16),
            nodes: Vec::new(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        for i in 0..n {
            cluster.nodes.push(Node {
                id: i as u16 + 1,
                port: free_port(),
                ingest_port: free_port(),
                child: None,
            });
        }
        // Started one after the other: the first migrates the database.
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    /// Starts node `i` (again, on the same ports).
    pub fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i];
        let data = self.db.dir().join(format!("node{}", node.id));
        let mut cmd = veza();
        cmd.current_dir(self.db.dir())
            .env("VEZA_BIND", format!("127.0.0.1:{}", node.port))
            .env(
                "VEZA_INGEST_BIND",
                format!("127.0.0.1:{}", node.ingest_port),
            )
            .env("VEZA_PUBLIC_URL", node.base())
            .env("VEZA_DATABASE_URL", &self.db.url)
            .env("VEZA_DATA_DIR", data)
            .env("VEZA_JWT_SECRET", super::TEST_SECRET)
            .env("VEZA_REDIS_URL", &self.redis_url)
            .env("VEZA_REDIS_PREFIX", &self.prefix)
            .env("VEZA_NODE_ID", node.id.to_string())
            .env("VEZA_WS_SEND_RATE", "100000")
            .env("VEZA_WS_SEND_BURST", "100000")
            .env("VEZA_AUTH_RATE_PER_MINUTE", "0")
            .env("VEZA_IP_RATE_PER_MINUTE", "0")
            .env("VEZA_USER_RATE_PER_MINUTE", "0")
            .env("VEZA_WRITE_RATE_PER_MINUTE", "0")
            .env("VEZA_LOG_FORMAT", "json")
            .env("VEZA_LOG_LEVEL", "warning")
            .stdout(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn veza");
        wait_until_up(&mut child, node.port);
        self.nodes[i].child = Some(child);
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            signal(&child, "-KILL");
            wait_exit(&mut child);
        }
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Registers `name` through node `i`.
    pub fn register(&self, i: usize, name: &str) -> User {
        let reply = json_call(
            self.port(i),
            "POST",
            "/api/v2/auth/register",
            None,
            Some(json!({"username": name, "password": "correct horse battery"})),
            201,
        );
        user_of(&reply)
    }

    /// Logs `name` in again through node `i` (a second session).
    pub fn login(&self, i: usize, name: &str) -> User {
        let reply = json_call(
            self.port(i),
            "POST",
            "/api/v2/auth/login",
            None,
            Some(json!({"username": name, "password": "correct horse battery"})),
            200,
        );
        user_of(&reply)
    }

    /// Creates a public room owned by `owner` through node `i`; returns its id.
    pub fn room(&self, i: usize, owner: &User, name: &str) -> String {
        let reply = json_call(
            self.port(i),
            "POST",
            "/api/v2/rooms",
            Some(&owner.token),
            Some(json!({"name": name})),
            201,
        );
        reply["id"].as_str().expect("room id").to_owned()
    }

    pub fn call(
        &self,
        i: usize,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        expect: u16,
    ) -> Value {
        json_call(self.port(i), method, path, token, body, expect)
    }

    /// `GET path` on node `i`: status and body, `None` if the node does not answer.
    pub fn get(&self, i: usize, path: &str, token: Option<&str>) -> Option<(u16, String)> {
        request(self.port(i), "GET", path, token, None)
    }

    /// A WebSocket to node `i`.
    pub async fn ws(&self, i: usize, user: &User) -> Ws {
        self.ws_with(i, &format!("Bearer {}", user.token)).await
    }

    /// A WebSocket to node `i` with this `Authorization` header.
    pub async fn ws_with(&self, i: usize, authorization: &str) -> Ws {
        let mut req = format!("ws://127.0.0.1:{}/ws", self.port(i))
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("authorization", authorization.parse().expect("header"));
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws { stream }
    }

    /// A WebSocket to node `i`, joined to `room`; returns it and the `joined` frame.
    pub async fn joined(
        &self,
        i: usize,
        user: &User,
        room: &str,
        since: Option<i64>,
    ) -> (Ws, Value) {
        let mut ws = self.ws(i, user).await;
        let mut frame = json!({"type": "join", "room": room});
        if let Some(since) = since {
            frame["since"] = json!(since);
        }
        ws.send(frame).await;
        let joined = ws.recv_type("joined").await;
        (ws, joined)
    }

    /// Every message of `room` in the store (through node `i`), ascending by seq.
    pub fn history(&self, i: usize, user: &User, room: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before = i64::MAX;
        loop {
            let page = self.call(
                i,
                "GET",
                &format!("/api/v2/rooms/{room}/messages?limit=100&before={before}"),
                Some(&user.token),
                None,
                200,
            );
            let msgs = page["messages"].as_array().cloned().unwrap_or_default();
            let Some(last) = msgs.last() else { break };
            before = last["seq"].as_i64().expect("seq");
            all.extend(msgs);
        }
        all.reverse();
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn user_of(reply: &Value) -> User {
    User {
        id: reply["user"]["id"].as_str().expect("user id").to_owned(),
        name: reply["user"]["username"].as_str().expect("name").to_owned(),
        token: reply["access_token"].as_str().expect("token").to_owned(),
        refresh: reply["refresh_token"].as_str().expect("refresh").to_owned(),
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `within`.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP relay in front of a server whose open connections can be frozen: after
/// [`FreezingProxy::freeze`], bytes stop flowing both ways on every connection made before it, and
/// those sockets stay open (a half-open link: no reset, no FIN), while new connections are relayed
/// as usual.
pub struct FreezingProxy {
    pub port: u16,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl FreezingProxy {
    pub fn start(target: u16) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let generation = Arc::new(AtomicU64::new(0));
        let current = generation.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let born = current.load(Ordering::SeqCst);
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(from), Ok(to)) = (from, to) else {
                        continue;
                    };
                    let current = current.clone();
                    std::thread::spawn(move || relay(from, to, born, &current));
                }
            }
        });
        FreezingProxy { port, generation }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every connection open now stops carrying bytes (and stays open).
    pub fn freeze(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to` while no freeze came after the connection was made; then holds both
/// sockets open without reading or writing.
fn relay(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    born: u64,
    generation: &std::sync::atomic::AtomicU64,
) {
    use std::io::{Read, Write};
    let frozen = || generation.load(std::sync::atomic::Ordering::SeqCst) != born;
    let _polled = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    while !frozen() {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
    // Frozen: keep the sockets (and so the connection) open, silent, for the rest of the test.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        let _held = (&from, &to);
    }
}
