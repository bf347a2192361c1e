//! Test support: a fresh database per test on either backend, and the app built on it.
//!
//! PostgreSQL: a template database is migrated once (per migration set, under an advisory lock so
//! parallel test processes agree), then each test gets `CREATE DATABASE ... TEMPLATE`, dropped when
//! the [`TestDb`] is dropped. SQLite: a file in a temporary directory. Tests never share rows.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;
use veza::config::Config;
use veza::db::{migrations, DbPool};
use veza::http::AppState;

pub mod audio;
pub mod cluster;
pub mod http;
pub mod oauth_provider;
pub mod process;
pub mod raw_http;
pub mod server;
pub mod webhook_receiver;

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use: one variable, with the trust-auth default of the dev machines.
pub fn pg_admin_url() -> String {
    // Every PostgreSQL connection of a test process comes after this (see src/db/openssl_exit.rs).
    veza::db::openssl_exit::skip_openssl_exit_cleanup();
    std::env::var("VEZA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if url[..i].contains("://") && i > url.find("://").unwrap_or(0) + 2 => {
            format!("{}/{db}", &url[..i])
        }
        _ => format!("{url}/{db}"),
    }
}

pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(kind: Kind) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        match kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("veza.db").display());
                TestDb {
                    kind,
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Kind::Postgres => {
                let template = ensure_pg_template();
                let name = format!("veza_test_{:016x}", rand::thread_rng().gen::<u64>());
                let mut admin = PgConnection::establish(&pg_admin_url())
                    .expect("PostgreSQL must run at VEZA_TEST_PG_URL (see docs/operations.md)");
                admin
                    .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .expect("create test database");
                TestDb {
                    kind,
                    url: with_database(&pg_admin_url(), &name),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A scratch directory that lives as long as the database (data dir, config files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A pool on this database, migrated.
    pub fn pool(&self) -> DbPool {
        let pool = DbPool::connect(&self.url, 4, Duration::from_secs(10)).expect("pool");
        migrations::run(&mut pool.get().expect("connection")).expect("migrations");
        pool
    }

    /// A configuration pointing at this database, with a fixed secret and a private data dir.
    pub fn config(&self) -> Config {
        let url = self.url.clone();
        let data_dir = self.dir.path().join("data").display().to_string();
        Config::load(None, move |name| match name {
            "VEZA_DATABASE_URL" => Some(url.clone()),
            "VEZA_JWT_SECRET" => Some(TEST_SECRET.to_owned()),
            "VEZA_DATA_DIR" => Some(data_dir.clone()),
            _ => None,
        })
        .expect("test config")
    }

    /// Application state on this database, as `veza serve` builds it. Needs an actix system.
    pub fn state(&self) -> AppState {
        self.state_with(self.config())
    }

    pub fn state_with(&self, config: Config) -> AppState {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let pool = self.pool();
        // Signed with the configured secret, as `veza serve` does; the tests' configs carry TEST_SECRET.
        let secret = config.jwt_secret.clone();
        veza::server::build_state(config, pool, secret.as_deref().unwrap_or(TEST_SECRET), log)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = PgConnection::establish(&pg_admin_url()) {
                let _best_effort =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The name of a migrated template for the current PostgreSQL migrations, creating it if needed.
fn ensure_pg_template() -> String {
    let name = format!("veza_tmpl_{}", migrations_hash());
    let mut admin = PgConnection::establish(&pg_admin_url())
        .expect("PostgreSQL must run at VEZA_TEST_PG_URL (see docs/operations.md)");
    // Parallel test processes race here; the lock makes exactly one build the template.
    admin
        .batch_execute("SELECT pg_advisory_lock(7340001)")
        .expect("advisory lock");
    let exists = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result::<Count>(&mut admin)
        .expect("query pg_database")
        .n
        > 0;
    if !exists {
        let building = format!("{name}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .expect("drop a half-built template");
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .expect("create template");
        {
            let url = with_database(&pg_admin_url(), &building);
            let pool = DbPool::connect(&url, 1, Duration::from_secs(10)).expect("template pool");
            migrations::run(&mut pool.get().expect("template connection"))
                .expect("migrate template");
        }
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .expect("publish template");
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(7340001)")
        .expect("advisory unlock");
    name
}

/// A short hash of the PostgreSQL migrations (and the admin URL), so a changed schema gets a new
/// template.
fn migrations_hash() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/postgres");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut hasher = Sha256::new();
    // Per server and role too: a template owned by another role cannot be copied.
    hasher.update(pg_admin_url().as_bytes());
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    hex::encode(&hasher.finalize()[..6])
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Runs each listed async test once per backend: `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::common::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::common::Kind::Postgres).await
                }
            )*
        }
    };
}

/// Decodes RFC 4648 base32 (TOTP secrets as authenticator apps get them).
pub fn base32_decode(s: &str) -> Vec<u8> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .iter()
            .position(|a| *a == c)
            .unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}

/// Makes every session of `user` look as if its login was long ago (older than any
/// re-authentication window), as a stolen access token of an old login would be.
pub fn age_sessions(pool: &DbPool, user: i64) {
    use veza::db::schema::sessions;
    let mut conn = pool.get().expect("connection");
    diesel::update(sessions::table.filter(sessions::user_id.eq(user)))
        .set(sessions::created_at.eq(1_i64))
        .execute(&mut conn)
        .expect("age sessions");
}

/// Makes every used refresh token look used long ago (past the refresh grace window).
pub fn age_used_refresh_tokens(pool: &DbPool) {
    use veza::db::schema::refresh_tokens;
    let mut conn = pool.get().expect("connection");
    diesel::update(refresh_tokens::table.filter(refresh_tokens::revoked_at.is_not_null()))
        .set(refresh_tokens::revoked_at.eq(Some(1_i64)))
        .execute(&mut conn)
        .expect("age refresh tokens");
}

/// The details of the newest audit row with `action`.
pub fn last_audit_details(pool: &DbPool, action: &str) -> serde_json::Value {
    let rows = veza::db::audit::recent(&mut pool.get().expect("connection"), Some(action), 1)
        .expect("audit");
    let row = rows
        .first()
        .unwrap_or_else(|| panic!("no {action} in the audit log"));
    serde_json::from_str(row.details.as_deref().unwrap_or("null")).expect("details JSON")
}
