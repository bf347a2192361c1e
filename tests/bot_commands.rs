//! Issue 12, commands: a bot registers `/roll` in a room it was invited to; a member's `/roll 2d6`
//! reaches the bot as a `command` event (not stored), the member is told it went out, and the
//! bot's answer is a message of kind `bot`. `/help` and `GET /api/v2/rooms/{id}/commands` list the
//! bot's commands; built-ins cannot be taken, another bot's name neither; a bot that is offline
//! gets the member a notice instead. Both stores.

mod common;

use common::server::{as_user, make_bot, TestServer, Ws};
use common::{Kind, TestDb};
use serde_json::{json, Value};

/// A bot `name` of `owner`, invited to `room` by `owner`'s socket, joined; its socket.
async fn bot_in(server: &TestServer, owner: &mut Ws, room: &str, token: &str, name: &str) -> Ws {
    owner
        .say(room, &format!("/invite @{name}"), &format!("inv-{name}"))
        .await;
    let mut bot = server.ws_with(&format!("Bot {token}")).await;
    bot.join(room).await;
    bot
}

async fn register(bot: &mut Ws, room: &str, commands: Value) -> Value {
    bot.send(json!({"type": "register_commands", "room": room, "commands": commands}))
        .await;
    bot.recv_type_any(&["commands_registered", "error"]).await
}

fn roll() -> Value {
    json!([{"name": "roll", "description": "roll dice", "args": "NdM"}])
}

async fn a_command_goes_to_the_bot_and_its_answer_is_a_bot_message(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    let registered = register(&mut bot, &room, roll()).await;
    assert_eq!(registered["type"], "commands_registered", "{registered}");
    assert_eq!(registered["commands"][0]["name"], "roll");

    a.send(json!({"type": "send", "room": room, "body": "/roll 2d6", "client_id": "r1"}))
        .await;
    let told = a.recv_type("notice").await;
    assert_eq!(told["client_id"], "r1");
    assert!(
        told["body"].as_str().unwrap().contains("sent to @dicebot"),
        "{told}"
    );
    let command = bot.recv_type("command").await;
    assert_eq!(command["command"], "roll");
    assert_eq!(command["args"], "2d6");
    assert_eq!(command["room"], room);
    assert_eq!(command["user"]["username"], "alice");
    assert!(command["id"].as_str().is_some_and(|id| !id.is_empty()));

    let answer = bot.say(&room, "alice rolled 7", "ans1").await;
    assert_eq!(answer["kind"], "bot");
    let seen = a.recv_type("message").await;
    assert_eq!(
        (&seen["message"]["kind"], &seen["message"]["body"]),
        (&json!("bot"), &json!("alice rolled 7")),
        "{seen}"
    );

    // The invocation is not in the history; the answer is.
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    let bodies: Vec<&str> = history.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"alice rolled 7"), "{bodies:?}");
    assert!(!bodies.iter().any(|b| b.starts_with("/roll")), "{bodies:?}");
}

async fn help_and_rest_list_the_bot_commands(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    register(&mut bot, &room, roll()).await;

    a.send(json!({"type": "send", "room": room, "body": "/help", "client_id": "h"}))
        .await;
    let help = a.recv_type("notice").await;
    let text = help["body"].as_str().unwrap();
    assert!(text.contains("/roll NdM - roll dice (@dicebot)"), "{text}");
    assert!(text.contains("/me ACTION"), "{text}");

    let commands_path = format!("/api/v2/rooms/{room}/commands");
    let listed = as_user(&server, &alice, "GET", &commands_path, None).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let commands = listed.body["commands"].as_array().expect("commands");
    let roll = commands
        .iter()
        .find(|c| c["name"] == "roll")
        .expect("roll listed");
    assert_eq!(roll["bot"]["username"], "dicebot");
    assert_eq!(roll["args"], "NdM");
    assert!(
        commands
            .iter()
            .any(|c| c["name"] == "ban" && c["bot"].is_null()),
        "built-ins are listed too: {commands:?}"
    );
    // An empty list takes them away again.
    let cleared = register(&mut bot, &room, json!([])).await;
    assert_eq!(cleared["commands"], json!([]));
    let listed = as_user(&server, &alice, "GET", &commands_path, None).await;
    assert!(!listed.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "roll"));
}

async fn built_ins_other_bots_names_and_people_are_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, one) = make_bot(&server, &alice, "one").await;
    let (_, two) = make_bot(&server, &alice, "two").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut first = bot_in(&server, &mut a, &room, &one, "one").await;
    let mut second = bot_in(&server, &mut a, &room, &two, "two").await;

    let builtin = register(&mut first, &room, json!([{"name": "ban"}])).await;
    assert_eq!(builtin["code"], "bad_request", "{builtin}");
    assert!(builtin["message"].as_str().unwrap().contains("built-in"));
    let bad_name = register(&mut first, &room, json!([{"name": "Roll Dice"}])).await;
    assert_eq!(bad_name["code"], "bad_request", "{bad_name}");
    let unknown_field = register(&mut first, &room, json!([{"name": "x", "run": "rm"}])).await;
    assert_eq!(unknown_field["code"], "bad_request", "{unknown_field}");

    assert_eq!(
        register(&mut first, &room, roll()).await["type"],
        "commands_registered"
    );
    let taken = register(&mut second, &room, roll()).await;
    assert_eq!(taken["code"], "forbidden", "{taken}");
    assert!(taken["message"].as_str().unwrap().contains("@one"));

    let person = register(&mut a, &room, roll()).await;
    assert_eq!(person["code"], "forbidden", "{person}");

    // At most 25 names, each once.
    let many: Vec<Value> = (0..26).map(|i| json!({"name": format!("c{i}")})).collect();
    let too_many = register(&mut first, &room, Value::Array(many)).await;
    assert_eq!(too_many["code"], "bad_request", "{too_many}");
    let twice = register(&mut first, &room, json!([{"name": "dup"}, {"name": "dup"}])).await;
    assert_eq!(twice["code"], "bad_request", "{twice}");
    assert!(
        twice["message"].as_str().unwrap().contains("twice"),
        "{twice}"
    );

    // Moderation stays the room's: /kick is not sent to any bot.
    a.send(json!({"type": "send", "room": room, "body": "/kick", "client_id": "k"}))
        .await;
    let usage = a.recv_type("error").await;
    assert_eq!(usage["code"], "bad_request", "{usage}");
}

async fn an_offline_bot_gets_the_member_a_notice(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    register(&mut bot, &room, roll()).await;
    bot.close().await;
    drop(bot);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.online_in(&room).await != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the bot never went offline"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    a.send(json!({"type": "send", "room": room, "body": "/roll", "client_id": "r"}))
        .await;
    let notice = a.recv_type("notice").await;
    assert_eq!(notice["client_id"], "r");
    assert!(
        notice["body"]
            .as_str()
            .unwrap()
            .contains("@dicebot is offline"),
        "{notice}"
    );
}

/// The `id` of a `command` event is a reply handle: the bot answers the invoker alone
/// (`command_reply`), nothing is stored, other members see nothing, and no one else can use it.
async fn a_bot_answers_a_command_privately_through_its_reply_handle(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let (_, other_token) = make_bot(&server, &alice, "otherbot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    let mut other = bot_in(&server, &mut a, &room, &other_token, "otherbot").await;
    register(&mut bot, &room, roll()).await;

    a.send(json!({"type": "send", "room": room, "body": "/roll 1d20", "client_id": "r1"}))
        .await;
    let id = bot.recv_type("command").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = |id: &str, body: &str| json!({"type": "command_reply", "room": room, "command": id, "body": body, "ref": 5});
    // Another bot, a person and an unknown id are refused.
    other.send(reply(&id, "not yours")).await;
    assert_eq!(other.recv_type("error").await["code"], "not_found");
    b.send(reply(&id, "me neither")).await;
    assert_eq!(b.recv_type("error").await["code"], "forbidden");
    bot.send(reply("no-such-id", "hm")).await;
    assert_eq!(bot.recv_type("error").await["code"], "not_found");

    bot.send(reply(&id, "you rolled 17 (only you see this)"))
        .await;
    let done = bot.recv_type("command_replied").await;
    assert_eq!(
        (done["command"].as_str(), &done["ref"]),
        (Some(id.as_str()), &json!(5))
    );
    let got = a.recv_type("command_reply").await;
    assert_eq!(got["body"], "you rolled 17 (only you see this)");
    assert_eq!(got["bot"]["username"], "dicebot");
    assert_eq!(got["command"], id.as_str());
    // Bob sees neither the reply nor a message; the history holds nothing.
    let bob_saw = b.quiet(300).await;
    assert!(
        bob_saw
            .iter()
            .all(|f| f["type"] != "command_reply" && f["type"] != "message"),
        "{bob_saw:?}"
    );
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    assert!(
        !history.body.to_string().contains("only you see this"),
        "{:?}",
        history.body
    );
    // An empty body is refused like any message's.
    bot.send(reply(&id, " ")).await;
    assert_eq!(bot.recv_type("error").await["code"], "bad_request");
}

/// Names are matched in any case, and a muted member cannot reach a bot either.
async fn commands_match_in_any_case_and_muted_members_are_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    register(&mut bot, &room, roll()).await;

    b.send(json!({"type": "send", "room": room, "body": "/ROLL 1d6", "client_id": "r1"}))
        .await;
    let command = bot.recv_type("command").await;
    assert_eq!(
        (command["command"].as_str(), command["args"].as_str()),
        (Some("roll"), Some("1d6"))
    );
    assert_eq!(b.recv_type("notice").await["client_id"], "r1");

    a.say(&room, "/mute @bob", "m").await;
    b.recv_type("message").await;
    b.send(json!({"type": "send", "room": room, "body": "/roll 1d6", "client_id": "r2"}))
        .await;
    let refused = b.recv_type_any(&["error", "notice"]).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let heard = bot.quiet(300).await;
    assert!(heard.iter().all(|f| f["type"] != "command"), "{heard:?}");
}

/// A banned bot's commands are neither offered nor invoked (kept for its unban).
async fn a_banned_bots_commands_are_not_offered(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "dicebot").await;
    let room = server.room(&alice, "games", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut bot = bot_in(&server, &mut a, &room, &token, "dicebot").await;
    register(&mut bot, &room, roll()).await;
    let listed = |server: &TestServer| {
        let (alice, room) = (alice.clone(), room.clone());
        let server_addr = server.addr;
        async move {
            let auth = format!("Bearer {}", alice.token);
            let r = common::http::call(
                server_addr,
                "GET",
                &format!("/api/v2/rooms/{room}/commands"),
                &[("Authorization", &auth)],
                None,
            )
            .await;
            r.body["commands"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "roll")
        }
    };
    assert!(listed(&server).await);

    a.say(&room, "/ban @dicebot", "b").await;
    a.send(json!({"type": "send", "room": room, "body": "/roll 1d6", "client_id": "r"}))
        .await;
    let notice = a.recv_type("notice").await;
    assert!(
        notice["body"]
            .as_str()
            .unwrap()
            .contains("there is no /roll"),
        "{notice}"
    );
    a.send(json!({"type": "send", "room": room, "body": "/help", "client_id": "h"}))
        .await;
    let help = a.recv_type("notice").await;
    assert!(!help["body"].as_str().unwrap().contains("/roll"), "{help}");
    assert!(!listed(&server).await);

    a.say(&room, "/unban @dicebot", "u").await;
    assert!(listed(&server).await);
}

on_both_backends!(
    a_command_goes_to_the_bot_and_its_answer_is_a_bot_message,
    help_and_rest_list_the_bot_commands,
    built_ins_other_bots_names_and_people_are_refused,
    an_offline_bot_gets_the_member_a_notice,
    a_bot_answers_a_command_privately_through_its_reply_handle,
    commands_match_in_any_case_and_muted_members_are_refused,
    a_banned_bots_commands_are_not_offered,
);
