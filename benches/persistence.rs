//! Persistence alone: messages committed per second by the persistence actors (group commit,
//! multi-row INSERT per batch) into PostgreSQL, and the ack latency (submit -> committed), against
//! a floor measured in the same run: the same rows committed by the store itself
//! (`DieselChatStore::apply`) in batches of 500 from one thread per shard, no actors (what the
//! store can take at best with this SQL). The floor goes through the same commit code, so a change
//! to that code moves both: judge it by messages/s across alternating runs, not by the ratio.
//!
//! `cargo bench --bench persistence` (needs PostgreSQL at `VEZA_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; a fresh database is made and dropped).
//! Sizes: `MESSAGES` (default 200000), `ROOMS` (100), `IN_FLIGHT` (4000), `SHARDS` (2).
//! `HOOKS` (default 0): live outgoing webhooks (events "message") made in each room before the
//! runs, so every commit also queues `HOOKS` deliveries per message (floor and actors alike; no
//! dispatcher runs, so the rows pile up and their count is printed).

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryDsl, RunQueryDsl};
use std::sync::Arc;
use std::time::{Duration, Instant};
use veza::db::chat_store::DieselChatStore;
use veza::db::{migrations, rooms, users, DbPool};
use veza_actors::model::{MessageKind, UserRef};
use veza_actors::persistence::Persistence;
use veza_actors::store::{ChatStore, StoreFactory, Write};
use veza_actors::{IdGenerator, RoomId, UserId};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn with_db(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > url.find("://").map(|p| p + 2).unwrap_or(0) => format!("{}/{db}", &url[..i]),
        _ => format!("{url}/{db}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn message(room: i64, author: &UserRef, i: usize) -> Write {
    Write::Message {
        room: RoomId(room),
        author: author.clone(),
        kind: MessageKind::User,
        body: format!("benchmark message number {i} with a body of ordinary length"),
        client_id: Some(format!("c{i}")),
        thread: None,
        extras: Default::default(),
    }
}

fn main() {
    veza::db::openssl_exit::skip_openssl_exit_cleanup();
    let admin = std::env::var("VEZA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let (total, room_count, in_flight, shards) = (
        env("MESSAGES", 200_000),
        env("ROOMS", 100),
        env("IN_FLIGHT", 4000),
        env("SHARDS", 2),
    );
    let hooks = env("HOOKS", 0);
    let name = format!("veza_bench_persist_{}", std::process::id());
    let mut admin_conn = PgConnection::establish(&admin).expect("PostgreSQL at VEZA_TEST_PG_URL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin_conn
            .batch_execute(&sql)
            .expect("create the bench database");
    }
    let url = with_db(&admin, &name);
    let pool = DbPool::connect(&url, 8, Duration::from_secs(10)).expect("pool");
    migrations::run(&mut pool.get().expect("conn")).expect("migrate");
    let ids = Arc::new(IdGenerator::new(1));
    let author = UserRef {
        id: UserId(ids.next_id()),
        username: "bench".into(),
    };
    let room_ids: Vec<i64> = (0..room_count).map(|_| ids.next_id()).collect();
    {
        let conn = &mut *pool.get().expect("conn");
        users::insert(
            conn,
            &users::NewUser {
                id: author.id,
                username: "bench",
                username_lower: "bench",
                email: None,
                password_hash: "",
                role: "user",
                disabled: false,
                created_at: 1,
                updated_at: 1,
                email_verified: false,
            },
        )
        .expect("user");
        for (i, id) in room_ids.iter().enumerate() {
            rooms::create(
                conn,
                RoomId(*id),
                &format!("r{i}"),
                None,
                false,
                author.id,
                1,
            )
            .expect("room");
        }
    }
    let mut pg = PgConnection::establish(&url).expect("bench database");
    if hooks > 0 {
        let rows: Vec<String> = room_ids
            .iter()
            .flat_map(|room| (0..hooks).map(move |h| (*room, h)))
            .map(|(room, h)| {
                format!(
                    "({}, {room}, 'h{h}', 'https://example.com/hook', 'x', 'message', {}, 1)",
                    ids.next_id(),
                    author.id.0
                )
            })
            .collect();
        pg.batch_execute(&format!(
            "INSERT INTO outgoing_webhooks \
             (id, room_id, name, url, secret_sealed, events, created_by, created_at) VALUES {}",
            rows.join(", ")
        ))
        .expect("hooks");
    }

    // The floor: the store applies batches of the size group commit reaches, one thread per shard.
    let batch = 500;
    let floor_total = total / 2;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for shard in 0..shards {
            let (pool, ids, author, room_ids) =
                (pool.clone(), ids.clone(), author.clone(), &room_ids);
            scope.spawn(move || {
                let mut store = DieselChatStore::new(pool, ids);
                let mine: Vec<usize> = (0..floor_total).filter(|i| i % shards == shard).collect();
                for chunk in mine.chunks(batch) {
                    let requests: Vec<Vec<Write>> = chunk
                        .iter()
                        .map(|i| {
                            vec![message(
                                room_ids[i % room_ids.len()],
                                &author,
                                1_000_000 + i,
                            )]
                        })
                        .collect();
                    store.apply(&requests).expect("floor batch");
                }
            });
        }
    });
    let floor_rate = floor_total as f64 / started.elapsed().as_secs_f64();

    // The persistence actors: `in_flight` submits outstanding at any time, as rooms would.
    let system = actix::System::new();
    let (rate, lat) = system.block_on(async {
        let factory: StoreFactory = {
            let (pool, ids) = (pool.clone(), ids.clone());
            Arc::new(move || {
                Box::new(DieselChatStore::new(pool.clone(), ids.clone())) as Box<dyn ChatStore>
            })
        };
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let persistence = Persistence::start(factory, shards, 1000, log);
        let sem = Arc::new(tokio::sync::Semaphore::new(in_flight));
        let started = Instant::now();
        let mut handles = Vec::with_capacity(total);
        for i in 0..total {
            let permit = sem.clone().acquire_owned().await.expect("semaphore");
            let room = room_ids[i % room_ids.len()];
            let fut = persistence.submit(Some(RoomId(room)), vec![message(room, &author, i)]);
            handles.push(actix::spawn(async move {
                let t = Instant::now();
                let result = fut.await;
                drop(permit);
                (result.is_ok(), t.elapsed())
            }));
        }
        let mut lat = Vec::with_capacity(total);
        for h in handles {
            let (ok, took) = h.await.expect("join");
            assert!(ok, "a write failed");
            lat.push(took);
        }
        let rate = total as f64 / started.elapsed().as_secs_f64();
        persistence.drain().await;
        lat.sort();
        (rate, lat)
    });
    let deliveries: i64 = veza::db::schema::webhook_deliveries::table
        .count()
        .get_result(&mut pg)
        .expect("count deliveries");
    drop(pg);
    drop(pool);
    let _best_effort =
        admin_conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));

    println!("persistence into PostgreSQL: {total} messages over {room_count} rooms, {in_flight} in flight, {shards} shards");
    println!("hooks per room: {hooks} (webhook deliveries left queued: {deliveries})");
    println!(
        "{:<44}{:>14}{:>10}{:>10}{:>10}",
        "", "messages/s", "p50 ms", "p99 ms", "max ms"
    );
    println!(
        "{:<44}{:>14.0}",
        format!("floor: store.apply, batches of {batch}, no actors"),
        floor_rate
    );
    println!(
        "{:<44}{:>14.0}{:>10.2}{:>10.2}{:>10.2}",
        "persistence actors (ack = committed)",
        rate,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!(
        "ratio actors/floor: {:.2}x (target >= 50,000 messages/s)",
        rate / floor_rate
    );
}
