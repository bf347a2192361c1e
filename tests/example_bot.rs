//! The example bot (`examples/bot.rs`) against a real server: built with cargo, started with a
//! token its owner made over REST, it joins the room it was invited to, registers `/roll` and
//! answers a member's `/roll 2d6` with a `bot` message. Both stores.

mod common;

use common::server::{make_bot, TestServer};
use common::{Kind, TestDb};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Builds the example (cargo takes its lock, so tests running at once build it once) and returns
/// its path beside this test's binary.
fn example_bot() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // The test's own CARGO_* variables (CARGO_MANIFEST_DIR, CARGO_PKG_*) and OUT_DIR would reach
    // build scripts that track them (ring's does): this build and the suite's would then rebuild
    // each other.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let ours = key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR";
        if ours || key == "OUT_DIR" || key.starts_with("NEXTEST") {
            cargo.env_remove(key);
        }
    }
    let status = cargo
        // --workspace: the same selection (so the same features) as `cargo nextest run
        // --workspace`, or each would rebuild what the other built.
        .args([
            "build",
            "--workspace",
            "--locked",
            "--quiet",
            "--example",
            "bot",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --example bot failed");
    let exe = std::env::current_exe().expect("test binary");
    // target/<profile>/deps/example_bot-HASH -> target/<profile>/examples/bot
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
        .join("bot")
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn the_example_bot_answers_roll(kind: Kind) {
    let bot_exe = example_bot();
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    a.say(&room, "/invite @dicebot", "inv").await;

    let _bot = Running(
        Command::new(bot_exe)
            .arg(&room)
            .env("VEZA_URL", format!("ws://{}", server.addr))
            .env("VEZA_BOT_TOKEN", &token)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the example bot"),
    );

    // Until the bot has joined and registered, /roll is unknown or the bot offline: ask again.
    a.invoke_until_sent(&room, "/roll 2d6", Duration::from_secs(20))
        .await;
    let reply = loop {
        let frame = a.recv_type("message").await;
        if frame["message"]["kind"] == "bot" {
            break frame["message"].clone();
        }
    };
    assert_eq!(reply["author"]["username"], "dicebot");
    let body = reply["body"].as_str().expect("body");
    assert!(body.starts_with("@alice rolled 2d6: "), "{body}");
    let total: u64 = body.rsplit(' ').next().unwrap().parse().expect("a total");
    assert!((2..=12).contains(&total), "{body}");

    // A roll it cannot read gets its usage back privately, through the command's reply handle.
    a.send(json!({"type": "send", "room": room, "body": "/roll lots", "client_id": "bad"}))
        .await;
    let private = a.recv_type("command_reply").await;
    assert_eq!(private["bot"]["username"], "dicebot");
    assert!(
        private["body"]
            .as_str()
            .unwrap()
            .starts_with("usage: /roll"),
        "{private}"
    );
}

on_both_backends!(the_example_bot_answers_roll);
