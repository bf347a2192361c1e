//! `veza backup` and `veza restore`, the real binary on both backends: data written through a
//! running server survives backup, wipe and restore; restore refuses what it must (a database in
//! use or holding users, a file of the other kind, garbage); a backup taken while the server writes
//! is one consistent snapshot.

mod common;

use common::http::{call, Reply};
use common::process::{free_port, sigterm_and_wait, veza, wait_until_up};
use common::server::Ws;
use common::{Kind, TestDb, TEST_SECRET};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use veza::backup::FileKind;

const PASSWORD: &str = "correct horse battery";

/// The real binary on this test's database, data directory and secret.
fn veza_on(db: &TestDb) -> Command {
    let mut cmd = veza();
    cmd.current_dir(db.dir())
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_DATA_DIR", db.dir().join("data"))
        .env("VEZA_JWT_SECRET", TEST_SECRET)
        .env("VEZA_LOG_FORMAT", "json");
    cmd
}

/// Runs `veza ARGS` to completion on `db`, off the test's async thread.
async fn run(db: &TestDb, args: &[&str]) -> Output {
    let mut cmd = veza_on(db);
    cmd.args(args).stdin(Stdio::null());
    actix_web::web::block(move || cmd.output())
        .await
        .expect("blocking pool")
        .expect("run veza")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `veza restore` that must be refused: non-zero exit, and a message with `needle` on stderr.
async fn refused(db: &TestDb, args: &[&str], needle: &str) {
    let out = run(db, args).await;
    assert!(
        !out.status.success(),
        "{args:?} should fail: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in the error: {}",
        text(&out)
    );
}

/// `veza serve` as a child process, stopped (killed if need be) when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[])
    }

    fn start_with(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = veza_on(db)
            .envs(env.iter().copied())
            .env("VEZA_BIND", format!("127.0.0.1:{port}"))
            .env("VEZA_INGEST_BIND", format!("127.0.0.1:{}", free_port()))
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn veza serve");
        wait_until_up(&mut child, port);
        Served {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn stop(mut self) {
        assert!(sigterm_and_wait(&mut self.child).success());
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let body = (!body.is_null()).then_some(body);
        call(self.addr, method, path, &headers, body.as_ref()).await
    }

    /// Registers `name`; returns its id and access token.
    async fn register(&self, name: &str) -> (String, String) {
        let r = self
            .call(
                "POST",
                "/api/v2/auth/register",
                None,
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        id_and_token(&r)
    }

    async fn login(&self, name: &str) -> (String, String) {
        let r = self
            .call(
                "POST",
                "/api/v2/auth/login",
                None,
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "login {name}: {:?}", r.body);
        id_and_token(&r)
    }

    async fn ws(&self, token: &str) -> Ws {
        let mut req = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws { stream }
    }

    /// The room's messages through the API, oldest first, as (id, seq, author, body, created_at).
    async fn messages(&self, token: &str, room: &str) -> Vec<(String, i64, String, String, i64)> {
        let r = self
            .call(
                "GET",
                &format!("/api/v2/rooms/{room}/messages?limit=100"),
                Some(token),
                Value::Null,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mut out: Vec<_> = r.body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().expect("id").to_owned(),
                    m["seq"].as_i64().expect("seq"),
                    m["author"]["username"].as_str().expect("author").to_owned(),
                    m["body"].as_str().expect("body").to_owned(),
                    m["created_at"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        out.sort_by_key(|m| m.1);
        out
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn id_and_token(r: &Reply) -> (String, String) {
    (
        r.body["user"]["id"].as_str().expect("user id").to_owned(),
        r.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
    )
}

fn sqlite_path(db: &TestDb) -> PathBuf {
    PathBuf::from(db.url.strip_prefix("sqlite://").expect("sqlite URL"))
}

/// Removes the database entirely: the SQLite file (and its WAL), or the PostgreSQL database,
/// recreated empty (no tables at all).
fn wipe(db: &TestDb) {
    match db.kind {
        Kind::Sqlite => {
            let path = sqlite_path(db);
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            assert!(!path.exists());
        }
        Kind::Postgres => {
            let name = db.url.rsplit('/').next().expect("database name");
            let mut admin = PgConnection::establish(&common::pg_admin_url()).expect("admin");
            // Separately: two statements in one batch would be one (refused) transaction.
            admin
                .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .expect("drop");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("recreate empty");
            let mut conn = PgConnection::establish(&db.url).expect("wiped database");
            let tables: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            )
            .get_result(&mut conn)
            .expect("count tables");
            assert_eq!(tables, 0, "the wiped database still has tables");
        }
    }
}

/// Files in `dir` besides `keep`: a backup must leave no temporary file behind.
fn strays(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn expected_kind(kind: Kind) -> FileKind {
    match kind {
        Kind::Sqlite => FileKind::Sqlite,
        Kind::Postgres => FileKind::PgDump,
    }
}

/// Takes a backup with the binary into `out`; checks what it reports and wrote.
async fn take_backup(db: &TestDb, out: &Path) {
    let result = run(db, &["backup", "--output", out.to_str().unwrap()]).await;
    assert!(result.status.success(), "backup: {}", text(&result));
    let stdout = String::from_utf8_lossy(&result.stdout);
    let size = std::fs::metadata(out).expect("backup file").len();
    let backend = match db.kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    };
    assert!(
        stdout.contains(&format!("wrote {size} bytes ({backend} backup)")),
        "{stdout}"
    );
    assert_eq!(FileKind::of(out).unwrap(), expected_kind(db.kind));
}

async fn data_survives_backup_wipe_and_restore(kind: Kind) {
    let db = TestDb::new(kind);
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("veza.backup");

    let server = Served::start(&db);
    let (alice_id, alice) = server.register("alice").await;
    let (bob_id, bob) = server.register("bob").await;
    let r = server
        .call(
            "POST",
            "/api/v2/rooms",
            Some(&alice),
            json!({"name": "general", "topic": "all things"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let room = r.body["id"].as_str().expect("room id").to_owned();
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    a.join(&room).await;
    b.join(&room).await;
    // Acked means committed: all of them are in a backup taken after.
    a.say(&room, "hello from alice", "a1").await;
    b.say(&room, "hi alice, bob here", "b1").await;
    a.say(&room, "ünïcødé and 'quotes'", "a2").await;
    let before = server.messages(&alice, &room).await;
    assert_eq!(
        before.iter().map(|m| m.3.as_str()).collect::<Vec<_>>(),
        [
            "hello from alice",
            "hi alice, bob here",
            "ünïcødé and 'quotes'"
        ]
    );
    a.close().await;
    b.close().await;

    // While the server runs.
    take_backup(&db, &file).await;
    assert_eq!(
        strays(backups.path(), &["veza.backup"]),
        Vec::<String>::new()
    );
    server.stop();

    wipe(&db);
    let out = run(&db, &["restore", "--input", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "restore: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 users, 1 rooms, 3 messages"), "{stdout}");

    let server = Served::start(&db);
    assert_eq!(server.login("alice").await.0, alice_id);
    let (bob_again, bob) = server.login("bob").await;
    assert_eq!(bob_again, bob_id);
    let r = server
        .call(
            "GET",
            &format!("/api/v2/rooms/{room}"),
            Some(&bob),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["name"].as_str(), r.body["topic"].as_str()),
        (Some("general"), Some("all things"))
    );
    assert_eq!(server.messages(&bob, &room).await, before);
    // The room goes on where it was: the next message takes the next seq.
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let next = b.say(&room, "after the restore", "b2").await;
    assert_eq!(
        next["seq"].as_i64(),
        Some(before.last().unwrap().1 + 1),
        "{next}"
    );
    server.stop();
}

async fn restore_refuses_a_database_in_use_or_with_users_and_files_of_the_wrong_kind(kind: Kind) {
    let db = TestDb::new(kind);
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let create_user = |name: &str| {
        let mut cmd = veza_on(&db);
        cmd.args(["admin", "create-user", "--username", name])
            .env("VEZA_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::null());
        let status = cmd.status().expect("create-user");
        assert!(status.success());
    };
    create_user("alice");
    let file = path("veza.backup");
    take_backup(&db, Path::new(&file)).await;
    create_user("carol");

    // Files no restore should take, each with a message that says what is wrong.
    let sqlite_magic = path("looks-like-sqlite");
    std::fs::write(
        &sqlite_magic,
        [b"SQLite format 3\0".as_slice(), &[0u8; 200]].concat(),
    )
    .unwrap();
    let pg_magic = path("looks-like-pg");
    std::fs::write(&pg_magic, [b"PGDMP".as_slice(), &[1u8; 200]].concat()).unwrap();
    let garbage = path("garbage");
    std::fs::write(&garbage, b"this is not a backup at all\n").unwrap();
    let empty = path("empty");
    std::fs::write(&empty, b"").unwrap();
    for (input, needle) in [
        (&garbage, "is not a Veza backup"),
        (&empty, "is not a Veza backup"),
        (&path("missing"), "No such file"),
    ] {
        refused(&db, &["restore", "--force", "--input", input], needle).await;
    }
    let (other_kind, needle) = match kind {
        Kind::Sqlite => (
            &pg_magic,
            "is a PostgreSQL backup but the configured database is SQLite",
        ),
        Kind::Postgres => (
            &sqlite_magic,
            "is a SQLite backup but the configured database is PostgreSQL",
        ),
    };
    refused(&db, &["restore", "--force", "--input", other_kind], needle).await;
    if kind == Kind::Sqlite {
        // The right magic but no database behind it; then a SQLite database that is not Veza's.
        refused(
            &db,
            &["restore", "--force", "--input", &sqlite_magic],
            "looks-like-sqlite: file is not a database",
        )
        .await;
        let foreign = path("foreign.db");
        SqliteConnection::establish(&foreign)
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        refused(
            &db,
            &["restore", "--force", "--input", &foreign],
            "is not a backup of a Veza database",
        )
        .await;
    } else {
        refused(
            &db,
            &["restore", "--force", "--input", &pg_magic],
            "looks-like-pg is not a backup of a Veza database",
        )
        .await;
        // A database at a newer schema than the backup: `--clean` would leave the newer table.
        let mut conn = PgConnection::establish(&db.url).unwrap();
        conn.batch_execute("CREATE TABLE from_a_newer_version (x INTEGER)")
            .unwrap();
        refused(
            &db,
            &["restore", "--force", "--input", &file],
            "tables the backup lacks (from_a_newer_version)",
        )
        .await;
        conn.batch_execute("DROP TABLE from_a_newer_version")
            .unwrap();
    }

    // Held open (as by a running server): refused, --force or not (servers still running would
    // go on acking into the old state).
    let pool = db.pool();
    let held = pool.get().unwrap();
    refused(
        &db,
        &["restore", "--force", "--input", &file],
        "running server",
    )
    .await;
    drop(held);
    drop(pool);

    // Holding users: only with --force.
    refused(
        &db,
        &["restore", "--input", &file],
        "already holds 2 user(s)",
    )
    .await;
    let usernames = |db: &TestDb| -> Vec<String> {
        use veza::db::schema::users;
        let pool = db.pool();
        let mut conn = pool.get().unwrap();
        users::table
            .select(users::username)
            .order(users::username)
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(
        usernames(&db),
        ["alice", "carol"],
        "a refused restore changed nothing"
    );
    let out = run(&db, &["restore", "--force", "--input", &file]).await;
    assert!(out.status.success(), "forced restore: {}", text(&out));
    assert_eq!(usernames(&db), ["alice"], "the backup's state, carol gone");
}

async fn a_backup_taken_while_the_server_writes_is_consistent(kind: Kind) {
    let db = TestDb::new(kind);
    let dir = tempfile::tempdir().unwrap();
    // No per-connection send limit in the way of a writer as fast as its acks.
    let server = Served::start_with(
        &db,
        &[
            ("VEZA_WS_SEND_RATE", "100000"),
            ("VEZA_WS_SEND_BURST", "100000"),
        ],
    );
    let (_, alice) = server.register("alice").await;
    let r = server
        .call(
            "POST",
            "/api/v2/rooms",
            Some(&alice),
            json!({"name": "busy"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let room = r.body["id"].as_str().expect("room id").to_owned();
    let room_id: i64 = room.parse().unwrap();

    // A writer that sends and waits for each ack until told to stop.
    let acked = Rc::new(AtomicU64::new(0));
    let stop = Rc::new(AtomicBool::new(false));
    let mut ws = server.ws(&alice).await;
    ws.join(&room).await;
    let writer = {
        let (acked, stop, room) = (acked.clone(), stop.clone(), room.clone());
        actix_web::rt::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                ws.say(&room, &format!("message {n}"), &format!("c{n}"))
                    .await;
                acked.store(n, Ordering::Relaxed);
            }
            ws.close().await;
        })
    };
    let wait_for = |target: u64| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while acked.load(Ordering::Relaxed) < target {
                assert!(Instant::now() < deadline, "the writer stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // Two backups, each with writes going on before, during and after it.
    let mut taken = Vec::new();
    for i in 0..2 {
        wait_for(acked.load(Ordering::Relaxed) + 20).await;
        let floor = acked.load(Ordering::Relaxed);
        let file = dir.path().join(format!("busy-{i}.backup"));
        take_backup(&db, &file).await;
        taken.push((file, floor));
    }
    wait_for(acked.load(Ordering::Relaxed) + 5).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let total = acked.load(Ordering::Relaxed);
    server.stop();

    for (file, floor) in taken {
        if kind == Kind::Sqlite {
            let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
            let check: String =
                diesel::dsl::sql::<diesel::sql_types::Text>("PRAGMA integrity_check")
                    .get_result(&mut conn)
                    .unwrap();
            assert_eq!(check, "ok");
        }
        // Restored (pg_restore on PostgreSQL) into a database of its own.
        let fresh = TestDb::new(kind);
        let out = run(&fresh, &["restore", "--input", file.to_str().unwrap()]).await;
        assert!(
            out.status.success(),
            "restore of a live backup: {}",
            text(&out)
        );
        let pool = fresh.pool();
        let mut conn = pool.get().unwrap();
        use veza::db::schema::{messages, rooms};
        let rows: Vec<(i64, String)> = messages::table
            .filter(messages::room_id.eq(room_id))
            .select((messages::seq, messages::kind))
            .order(messages::seq)
            .load(&mut *conn)
            .unwrap();
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let written = rows.iter().filter(|r| r.1 == "user").count() as u64;
        let last_seq: i64 = rooms::table
            .find(room_id)
            .select(rooms::last_seq)
            .first(&mut *conn)
            .unwrap();
        let n = seqs.len() as i64;
        // One moment: every message acked before it started, no gap, and the room's counter
        // from the same instant as its messages.
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "gap-free seqs");
        assert_eq!(last_seq, n, "rooms.last_seq matches the messages");
        assert!(
            written >= floor,
            "{written} messages, {floor} acked before the backup"
        );
        assert!(
            written <= total,
            "{written} messages, only {total} ever acked"
        );
    }
}

on_both_backends!(
    data_survives_backup_wipe_and_restore,
    restore_refuses_a_database_in_use_or_with_users_and_files_of_the_wrong_kind,
    a_backup_taken_while_the_server_writes_is_consistent,
);
