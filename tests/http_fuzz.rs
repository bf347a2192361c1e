//! Issue 11 ("Also"): an HTTP fuzz pass over every route. The routes are read from the OpenAPI
//! document (which `tests/openapi.rs` holds to the router), so a route added is fuzzed without
//! touching this file. Each
//! case is one request with proptest-made path parameters (real ids or hostile text), query,
//! credentials, `Range` and body (random JSON, plausible objects with wrong values, bytes that are
//! not UTF-8). Every answer must be below 500, every error must have the contract's JSON shape, and
//! the server must still serve chat afterwards: no 5xx, no crashed actor, no hung request.
//!
//! The seed is random per run and printed with any failing case; `VEZA_FUZZ_SEED` replays one and
//! `VEZA_FUZZ_CASES` sets how many requests are made (default 2,000 per store).

mod common;

use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One route of the app: method and path template (`{name}` for a parameter).
#[derive(Debug, Clone, PartialEq)]
struct Route {
    method: &'static str,
    path: String,
}

/// Every (method, path) the app routes: the OpenAPI document's, which `tests/openapi.rs` proves
/// to be exactly the router's (parameter names included).
fn routes() -> Vec<Route> {
    let doc: Value = serde_json::from_str(veza::http::openapi::json()).expect("the document");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if item.get(method.to_lowercase()).is_some() {
                out.push(Route {
                    method,
                    path: path.clone(),
                });
            }
        }
    }
    out
}

#[test]
fn the_route_table_is_read_whole() {
    let all = routes();
    assert!(all.len() >= 50, "{} routes read", all.len());
    for (method, path) in [
        ("GET", "/health"),
        ("POST", "/api/v2/auth/login"),
        ("GET", "/api/v2/rooms"),
        ("POST", "/api/v2/rooms"),
        ("PUT", "/api/v2/streams/{id}/effects"),
        ("GET", "/hls/{mount}/{variant}/{segment}"),
        ("DELETE", "/api/v2/users/me/identities/{provider}"),
    ] {
        assert!(
            all.contains(&Route {
                method,
                path: path.to_owned()
            }),
            "{method} {path} missing from {all:?}"
        );
    }
}

/// What the fuzzer may put where a real value goes.
struct Known {
    room: String,
    private_room: String,
    stream: String,
    mount: String,
    user: String,
    /// Whom the admin routes disable, demote and sign out (not the owner, whose token the
    /// other cases use).
    victim: String,
    owner_token: String,
    admin_token: String,
}

/// One generated request, before it is bound to real ids.
#[derive(Debug, Clone)]
struct Case {
    route: usize,
    params: Vec<Param>,
    query: Vec<(String, String)>,
    auth: Auth,
    range: Option<String>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Param {
    /// The real id (room, stream, user, mount...) the parameter's name asks for.
    Real,
    /// The private room, a user's id where a room's is asked, and so on.
    Other(usize),
    Text(String),
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Owner,
    Admin,
    Header(String),
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Raw(String, Vec<u8>),
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.~-]{0,24}",
        any::<i64>().prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("..".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just("%00".to_owned()),
        "\\PC{0,16}",
        "[a-z]{300,600}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(field_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the routes read, and some they do not.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "username",
            "password",
            "email",
            "totp_code",
            "code",
            "refresh_token",
            "name",
            "topic",
            "private",
            "title",
            "room_id",
            "scheduled_at",
            "from",
            "to",
            "role",
            "current_password",
            "new_password",
            "state",
            "redirect_uri",
            "effects",
            "song",
            "text",
            "backup_code",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ]
}

/// An object of known fields with random values: gets past "not an object" to the checks.
fn plausible_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(field_name(), json_value(), 1..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        2 => Just(Body::None),
        3 => plausible_object().prop_map(Body::Json),
        1 => json_value().prop_map(Body::Json),
        1 => (
            prop::sample::select(vec![
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "audio/mpeg",
            ]),
            prop::collection::vec(any::<u8>(), 0..512),
        )
            .prop_map(|(t, bytes)| Body::Raw(t.to_owned(), bytes)),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "since",
            "limit",
            "before",
            "after",
            "q",
            "cursor",
            "from",
            "to",
            "mode",
            "song",
            "mount",
            "access_token",
            "code",
            "state",
            "error",
            "room",
            "user",
            "action",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,8}",
    ];
    prop::collection::vec((key, hostile_text()), 0..4)
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        2 => Just(Auth::None),
        4 => Just(Auth::Owner),
        2 => Just(Auth::Admin),
        1 => prop_oneof![
            "Bearer [A-Za-z0-9._-]{0,200}",
            "Basic [A-Za-z0-9+/=]{0,40}",
            "Bot [a-z_0-9]{0,40}",
            "[ -~]{0,40}",
        ]
        .prop_map(Auth::Header),
    ]
}

fn case(routes: usize) -> impl Strategy<Value = Case> {
    let param = prop_oneof![
        4 => Just(Param::Real),
        1 => (0usize..4).prop_map(Param::Other),
        3 => hostile_text().prop_map(Param::Text),
    ];
    (
        0..routes,
        prop::collection::vec(param, 3),
        query(),
        auth(),
        prop::option::weighted(
            0.2,
            prop_oneof![
                Just("bytes=0-".to_owned()),
                Just("bytes=-5".to_owned()),
                Just("bytes=5-1".to_owned()),
                Just("bytes=99999999999999-".to_owned()),
                "bytes=[0-9a-z,-]{0,20}",
            ],
        ),
        body(),
    )
        .prop_map(|(route, params, query, auth, range, body)| Case {
            route,
            params,
            query,
            auth,
            range,
            body,
        })
}

/// Percent-encodes everything but unreserved characters, so any text can sit in a request line.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The real value a path parameter named `name` of `path` takes.
fn real(known: &Known, path: &str, name: &str, other: Option<usize>) -> String {
    let choices: Vec<&str> = match name {
        "id" if path.contains("/rooms/") => vec![&known.room, &known.private_room, &known.user],
        "id" if path.contains("/streams/") => vec![&known.stream, &known.room],
        "id" if path.contains("/admin/users/") => vec![&known.victim, "999999"],
        "id" => vec![&known.user, &known.room],
        "mount" => vec![&known.mount, &known.stream],
        "variant" => vec!["mp3-128", "opus-96", "aac-128", "index.m3u8"],
        "segment" => vec!["0.ts", "1.aac", "seg-1.ts", "init.mp4"],
        "provider" => vec!["github", "google", "oidc"],
        _ => vec!["1", "0"],
    };
    let i = other.map_or(0, |n| (n + 1) % choices.len());
    choices[i].to_owned()
}

/// The request line's target for `case` on `route`.
fn target(known: &Known, route: &Route, case: &Case) -> String {
    let mut out = String::new();
    let mut params = case.params.iter();
    for (i, part) in route.path.split('{').enumerate() {
        if i == 0 {
            out.push_str(part);
            continue;
        }
        let (name, tail) = part.split_once('}').expect("closed parameter");
        let value = match params.next().unwrap_or(&Param::Real) {
            Param::Real => real(known, &route.path, name, None),
            Param::Other(n) => real(known, &route.path, name, Some(*n)),
            Param::Text(t) => t.clone(),
        };
        out.push_str(&encode(&value));
        out.push_str(tail);
    }
    for (i, (k, v)) in case.query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&format!("{}={}", encode(k), encode(v)));
    }
    out
}

/// The raw request for `case`.
fn request(known: &Known, route: &Route, case: &Case) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        route.method,
        target(known, route, case)
    );
    match &case.auth {
        Auth::None => {}
        Auth::Owner => head.push_str(&format!("Authorization: Bearer {}\r\n", known.owner_token)),
        Auth::Admin => head.push_str(&format!("Authorization: Bearer {}\r\n", known.admin_token)),
        Auth::Header(h) => head.push_str(&format!("Authorization: {h}\r\n")),
    }
    if let Some(range) = &case.range {
        head.push_str(&format!("Range: {range}\r\n"));
    }
    let (kind, bytes) = match &case.body {
        Body::None => (None, Vec::new()),
        Body::Json(v) => (
            Some("application/json".to_owned()),
            v.to_string().into_bytes(),
        ),
        Body::Raw(t, b) => (Some(t.clone()), b.clone()),
    };
    if let Some(kind) = kind {
        head.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(&bytes);
    raw
}

/// Sends `raw` and reads the whole answer; `None` if it took more than 15 s (a hung request).
async fn send(addr: SocketAddr, raw: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        // The server may answer (and close) before a refused body is all written.
        let _may_be_refused_early = tcp.write_all(raw).await;
        let mut answer = Vec::new();
        let _reset_after_answer = tcp.read_to_end(&mut answer).await;
        Some(answer)
    };
    tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .ok()
        .flatten()
}

/// Status, lower-cased headers and body of an answer.
fn parse(answer: &[u8]) -> (u16, String, Vec<u8>) {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.get(split + 4..).unwrap_or_default().to_vec();
    (status, head, body)
}

/// What is wrong with an answer, if anything.
fn fault(status: u16, head: &str, body: &[u8]) -> Option<String> {
    if status == 0 {
        return Some("no HTTP answer".into());
    }
    if status >= 500 {
        return Some(format!("status {status}"));
    }
    if status >= 400 {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let shaped = parsed["error"]["code"].is_string() && parsed["error"]["message"].is_string();
        if !shaped || !head.contains("content-type: application/json") {
            return Some(format!("error {status} without the contract's JSON shape"));
        }
    }
    None
}

async fn known_values(server: &TestServer) -> Known {
    let owner = server.user("fuzz_owner").await;
    let admin = server
        .user_with_role("fuzz_admin", veza::auth::Role::Admin)
        .await;
    let victim = server.user("fuzz_victim").await;
    let room = server.room(&owner, "fuzzing", false).await;
    let private_room = server.room(&admin, "fuzz-private", true).await;
    let stream = common::audio::create_stream(server, &owner, "Fuzz FM").await;
    Known {
        room,
        private_room,
        stream: stream.id,
        mount: stream.mount,
        user: owner.id.to_string(),
        victim: victim.id.to_string(),
        owner_token: owner.token,
        admin_token: admin.token,
    }
}

fn seed() -> u64 {
    std::env::var("VEZA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

async fn no_route_answers_5xx_or_breaks_the_contract(kind: Kind) {
    let db = TestDb::new(kind);
    // Limits off: a 429 would end the pass long before every route was reached.
    let config = config_with(
        &db,
        &[
            ("VEZA_IP_RATE_PER_MINUTE", "0"),
            ("VEZA_MEDIA_RATE_PER_MINUTE", "0"),
            ("VEZA_USER_RATE_PER_MINUTE", "0"),
            ("VEZA_WRITE_RATE_PER_MINUTE", "0"),
            ("VEZA_AUTH_RATE_PER_MINUTE", "0"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let known = known_values(&server).await;
    let table = routes();
    let cases: usize = std::env::var("VEZA_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(RunnerConfig::default(), rng);
    let strategy = case(table.len());
    let mut faults = Vec::new();
    let mut seen = vec![0u32; table.len()];
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for n in 0..cases {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let route = &table[case.route];
        seen[case.route] += 1;
        let raw = request(&known, route, &case);
        let problem = match send(server.addr, &raw).await {
            None => Some("no answer within 15 s".to_owned()),
            Some(answer) => {
                let (status, head, body) = parse(&answer);
                *statuses.entry(status).or_default() += 1;
                fault(status, &head, &body).map(|f| {
                    format!(
                        "{f}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    )
                })
            }
        };
        if let Some(problem) = problem {
            faults.push(format!(
                "case {n} (VEZA_FUZZ_SEED={seed}): {problem}\n  request: {:?}",
                String::from_utf8_lossy(&raw)
                    .chars()
                    .take(600)
                    .collect::<String>()
            ));
        }
    }
    eprintln!(
        "{cases} requests over {} routes (seed {seed}); statuses: {statuses:?}",
        table.len()
    );
    assert!(
        faults.is_empty(),
        "{} of {cases} requests went wrong:\n{}",
        faults.len(),
        faults.join("\n")
    );
    let reached = seen.iter().filter(|&&n| n > 0).count();
    assert!(
        reached * 10 >= table.len() * 9 || cases < table.len() * 5,
        "only {reached} of {} routes reached",
        table.len()
    );
    // The server still serves chat: a new user joins the room and is acknowledged.
    let late = server.user("fuzz_late").await;
    let mut ws = server.ws(&late).await;
    ws.join(&known.room).await;
    let message = ws.say(&known.room, "still here", "fuzz-1").await;
    assert_eq!(message["body"], "still here", "{message}");
    let health = common::http::call(server.addr, "GET", "/health", &[], None).await;
    assert_eq!(health.status, 200);
}

on_both_backends!(no_route_answers_5xx_or_breaks_the_contract);
