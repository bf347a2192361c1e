//! The `veza` binary itself: serving from a clean directory, stopping on SIGTERM, the operator
//! commands and the configuration errors a person would see.

mod common;

use common::process::{free_port, get, sigterm_and_wait, veza, wait_until_up};
use common::{Kind, TestDb};
use std::io::{Read, Write};
use std::process::Stdio;
use veza_actors::{RoomId, UserId};

#[test]
fn serve_starts_on_embedded_sqlite_in_a_clean_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = veza()
        .current_dir(dir.path())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{}", free_port()))
        .env("VEZA_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_until_up(&mut child, port);
    let (status, body) = get(port, "/api/v2/status").unwrap();
    assert_eq!(status, 200);
    let status_json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status_json["store"], "sqlite");
    // First start created the data directory, the database and the development secret.
    assert!(dir.path().join("data/veza.db").exists());
    assert!(dir.path().join("data/jwt_secret").exists());
    let exit = sigterm_and_wait(&mut child);
    assert!(
        exit.success(),
        "graceful shutdown should exit 0, got {exit}"
    );
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| l["msg"] == "request" && l["path"] == "/api/v2/status")
        .expect("an access-log line for /api/v2/status");
    for key in ["method", "status", "duration_ms", "request_id"] {
        assert!(!access[key].is_null(), "{key} missing in {access}");
    }
    assert!(lines.iter().any(|l| l["msg"] == "stopped"), "{logs}");
}

#[test]
fn the_same_binary_serves_on_postgres() {
    let db = TestDb::new(Kind::Postgres);
    let port = free_port();
    let mut child = veza()
        .current_dir(db.dir())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{}", free_port()))
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_up(&mut child, port);
    let (status, body) = get(port, "/api/v2/status").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"store\":\"postgres\""), "{body}");
    assert!(sigterm_and_wait(&mut child).success());
}

#[test]
fn production_refuses_to_start_with_a_weak_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Missing, a placeholder, short, and long enough but one character repeated.
    let repeated = "a".repeat(48);
    for secret in [None, Some("change-me"), Some("too-short"), Some(&*repeated)] {
        let mut cmd = veza();
        cmd.current_dir(dir.path()).env("VEZA_ENV", "production");
        if let Some(s) = secret {
            cmd.env("VEZA_JWT_SECRET", s);
        }
        let out = cmd.arg("serve").output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("jwt_secret"), "{secret:?}: {err}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before validation passes"
    );
}

#[test]
fn config_check_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = veza()
        .env("VEZA_DB_POOL_SIZE", "0")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`db_pool_size`") && err.contains("VEZA_DB_POOL_SIZE"),
        "{err}"
    );

    let file = dir.path().join("veza.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:9999\"\nlisten = 1\n").unwrap();
    let out = veza()
        .arg("--config")
        .arg(&file)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`listen`"));

    std::fs::write(&file, "bind = \"127.0.0.1:9999\"\n").unwrap();
    let out = veza()
        .env("VEZA_CONFIG", &file)
        .env("VEZA_JWT_SECRET", "a-secret-that-must-not-be-printed")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("127.0.0.1:9999"), "{shown}");
    assert!(
        !shown.contains("a-secret-that-must-not-be-printed"),
        "{shown}"
    );
}

#[test]
fn help_documents_every_option() {
    let out = veza().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for key in veza::config::KEYS {
        assert!(
            help.contains(&key.env_var()),
            "--help misses {}",
            key.env_var()
        );
    }
    for cmd in ["serve", "migrate", "admin", "config"] {
        assert!(help.contains(cmd), "--help misses {cmd}");
    }
}

#[test]
fn migrate_then_admin_create_user_with_the_password_on_stdin() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = TestDb::new(kind);
        let out = veza()
            .current_dir(db.dir())
            .env("VEZA_DATABASE_URL", &db.url)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut child = veza()
            .current_dir(db.dir())
            .env("VEZA_DATABASE_URL", &db.url)
            .args([
                "admin",
                "create-user",
                "--username",
                "root_admin",
                "--role",
                "admin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long admin password\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let pool = db.pool();
        let user = veza::db::users::find_by_username(&mut pool.get().unwrap(), "root_admin")
            .unwrap()
            .expect("user created");
        assert_eq!(user.role, "admin");
        assert!(
            veza::auth::password::verify("a long admin password", &user.password_hash).unwrap()
        );

        let bad_role = veza()
            .env("VEZA_DATABASE_URL", &db.url)
            .args([
                "admin",
                "create-user",
                "--username",
                "x_user",
                "--role",
                "emperor",
            ])
            .output()
            .unwrap();
        assert!(!bad_role.status.success());
    }
}

#[test]
fn docs_configuration_lists_every_option() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    for key in veza::config::KEYS {
        assert!(
            doc.contains(&format!("`{}`", key.env_var())),
            "docs/configuration.md misses {}",
            key.env_var()
        );
    }
}

#[test]
fn admin_rotate_totp_key_re_encrypts_the_stored_secrets() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = TestDb::new(kind);
        let (old_key, new_key) = ("ab".repeat(32), "cd".repeat(32));
        let mut conn = db.pool().get().unwrap();
        veza::db::users::insert(
            &mut conn,
            &veza::db::users::NewUser {
                id: UserId(7),
                username: "erin",
                username_lower: "erin",
                email: None,
                password_hash: "",
                role: "user",
                disabled: false,
                created_at: 1,
                updated_at: 1,
                email_verified: false,
            },
        )
        .unwrap();
        let sealed = veza::server::secret_box(Some(&old_key), "").seal(b"12345678901234567890");
        veza::db::two_factor::set_pending_secret(&mut conn, UserId(7), &sealed, 1).unwrap();
        // An outgoing webhook's signing secret, sealed under the old key too.
        veza::db::rooms::create(&mut conn, RoomId(8), "ops", None, false, UserId(7), 1).unwrap();
        let hook_secret =
            veza::server::secret_box(Some(&old_key), "").seal_for(9, b"whsec_the_hooks_secret");
        veza::db::outgoing_webhooks::insert(
            &mut conn,
            &veza::db::outgoing_webhooks::OutgoingWebhook {
                id: 9,
                room_id: RoomId(8),
                name: "ci".into(),
                url: "https://example.com/".into(),
                secret_sealed: hook_secret,
                events: "message".into(),
                triggers: String::new(),
                created_by: UserId(7),
                created_at: 1,
                revoked_at: None,
                consecutive_failures: 0,
                circuit_open_until: None,
                trial_until: None,
            },
        )
        .unwrap();
        let run = |old: Option<&str>| {
            let mut cmd = veza();
            cmd.current_dir(db.dir())
                .env("VEZA_DATABASE_URL", &db.url)
                .env(
                    "VEZA_JWT_SECRET",
                    "a-test-secret-that-is-long-enough-0123456789",
                )
                .env("VEZA_TOTP_KEY", &new_key)
                .env_remove("VEZA_OLD_JWT_SECRET")
                .args(["admin", "rotate-totp-key"]);
            if let Some(old) = old {
                cmd.env("VEZA_OLD_TOTP_KEY", old);
            }
            cmd.output().unwrap()
        };
        let out = run(None);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("VEZA_OLD_TOTP_KEY"));
        let out = run(Some(&old_key));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("re-encrypted 1 TOTP secrets"), "{stdout}");
        let users = veza::db::two_factor::all_secrets(&mut conn).unwrap();
        let plain = veza::server::secret_box(Some(&new_key), "").open_for(7, &users[0].1);
        assert_eq!(plain.as_deref(), Some(&b"12345678901234567890"[..]));
        assert!(
            stdout.contains("re-sealed 1 outgoing webhook secrets"),
            "{stdout}"
        );
        let hooks = veza::db::outgoing_webhooks::all_secrets(&mut conn).unwrap();
        let plain = veza::server::secret_box(Some(&new_key), "").open_for(9, &hooks[0].1);
        assert_eq!(plain.as_deref(), Some(&b"whsec_the_hooks_secret"[..]));
        // Under a wrong old key, nothing opens: it says so and fails.
        veza::db::two_factor::set_pending_secret(&mut conn, UserId(7), &sealed, 2).unwrap();
        let out = run(Some(&"ef".repeat(32)));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 open with neither key"));
    }
}
