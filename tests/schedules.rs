//! Issue 14, schedules: slots are validated (422), overlapping slots of a stream are refused with
//! 409 `schedule_conflict` (weekly against weekly, and a one-off against a weekly slot on either
//! side of a DST change), the schedule lists occurrences in local time across a DST change,
//! follows are kept per user, and when a slot opens every follower, on whichever node, gets one
//! `show_starting` event and one feed entry, the linked room hears it once, and a non-follower
//! gets nothing. Both stores; the firing test runs on two real nodes.

mod common;

use chrono::{Datelike, Duration as Days, NaiveDate, Utc, Weekday};
use common::cluster::{eventually, Cluster, User};
use common::server::{as_user, TestServer};
use common::{Kind, TestDb};
use serde_json::{json, Value};
use std::time::Duration;

/// The first `day` of `month` next year.
fn first(day: Weekday, month: u32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(Utc::now().year() + 1, month, 1).expect("date");
    while d.weekday() != day {
        d += Days::days(1);
    }
    d
}

fn weekly(day: &str, time: &str, zone: &str, minutes: i64) -> Value {
    json!({"kind": "weekly", "weekday": day, "time": time, "time_zone": zone,
           "duration_minutes": minutes})
}

fn once(date: NaiveDate, time: &str, zone: &str, minutes: i64) -> Value {
    json!({"kind": "once", "date": date.format("%Y-%m-%d").to_string(), "time": time,
           "time_zone": zone, "duration_minutes": minutes})
}

async fn slots_are_validated_and_conflicts_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let other = server.user("other").await;
    let stream = as_user(
        &server,
        &dj,
        "POST",
        "/api/v2/streams",
        Some(json!({"title": "Friday night"})),
    )
    .await;
    assert_eq!(stream.status, 201, "{}", stream.body);
    let path = format!(
        "/api/v2/streams/{}/schedule",
        stream.body["id"].as_str().unwrap()
    );

    // Fridays 20:00-22:00 in Paris.
    let friday = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(weekly("friday", "20:00", "Europe/Paris", 120)),
    )
    .await;
    assert_eq!(friday.status, 201, "{}", friday.body);
    let friday_id = friday.body["id"].as_str().unwrap().to_owned();
    assert_eq!(friday.body["weekday"], "friday");

    for (bad, why) in [
        (weekly("friday", "20:00", "Mars/Olympus", 60), "zone"),
        (weekly("friday", "25:00", "Europe/Paris", 60), "time"),
        (weekly("someday", "20:00", "Europe/Paris", 60), "weekday"),
        (weekly("monday", "20:00", "Europe/Paris", 0), "duration"),
        (
            weekly("monday", "20:00", "Europe/Paris", 24 * 60 + 1),
            "duration",
        ),
        (
            once(
                NaiveDate::from_ymd_opt(2001, 1, 1).unwrap(),
                "20:00",
                "UTC",
                60,
            ),
            "past",
        ),
        (
            json!({"kind": "daily", "time": "20:00", "time_zone": "UTC", "duration_minutes": 60}),
            "kind",
        ),
        (
            json!({"kind": "weekly", "weekday": "monday", "time_zone": "UTC", "duration_minutes": 60}),
            "missing time",
        ),
    ] {
        let reply = as_user(&server, &dj, "POST", &path, Some(bad)).await;
        assert_eq!(reply.status, 422, "{why}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "validation_failed", "{why}");
    }

    // Weekly against weekly: 21:00 runs into the 20:00-22:00 show.
    let clash = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(weekly("friday", "21:00", "Europe/Paris", 60)),
    )
    .await;
    assert_eq!(clash.status, 409, "{}", clash.body);
    assert_eq!(clash.body["error"]["code"], "schedule_conflict");
    let message = clash.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&friday_id), "names the slot: {message}");
    // Right after it is fine.
    let after = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(weekly("friday", "22:00", "Europe/Paris", 60)),
    )
    .await;
    assert_eq!(after.status, 201, "{}", after.body);

    // A one-off at 18:30 UTC on a Friday: 19:30 in Paris in January (before the show), 20:30 in
    // July (CEST: inside it).
    let winter = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(once(first(Weekday::Fri, 1), "18:30", "UTC", 30)),
    )
    .await;
    assert_eq!(winter.status, 201, "{}", winter.body);
    let summer = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(once(first(Weekday::Fri, 7), "18:30", "UTC", 30)),
    )
    .await;
    assert_eq!(summer.status, 409, "{}", summer.body);
    assert!(summer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&friday_id));

    // Only the owner edits the schedule.
    let theirs = as_user(
        &server,
        &other,
        "POST",
        &path,
        Some(weekly("monday", "10:00", "UTC", 60)),
    )
    .await;
    assert_eq!(theirs.status, 403);
    let slot = format!("{path}/{}", after.body["id"].as_str().unwrap());
    assert_eq!(
        as_user(&server, &other, "DELETE", &slot, None).await.status,
        403
    );
    assert_eq!(
        as_user(&server, &dj, "DELETE", &slot, None).await.status,
        204
    );
    assert_eq!(
        as_user(&server, &dj, "DELETE", &slot, None).await.status,
        404
    );
    server.stop().await;
}

async fn the_schedule_lists_occurrences_in_local_time_across_dst(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = as_user(
        &server,
        &dj,
        "POST",
        "/api/v2/streams",
        Some(json!({"title": "Weekly"})),
    )
    .await;
    let path = format!(
        "/api/v2/streams/{}/schedule",
        stream.body["id"].as_str().unwrap()
    );
    let made = as_user(
        &server,
        &dj,
        "POST",
        &path,
        Some(weekly("friday", "20:00", "Europe/Paris", 120)),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);

    // Three weeks around the last Sunday of March next year: the UTC start moves by an hour.
    let mut change = NaiveDate::from_ymd_opt(Utc::now().year() + 1, 3, 31).unwrap();
    while change.weekday() != Weekday::Sun {
        change -= Days::days(1);
    }
    let from = (change - Days::days(14))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let to = from + 21 * 86_400_000;
    let anyone = server.user("listener").await;
    let listed = as_user(
        &server,
        &anyone,
        "GET",
        &format!("{path}?from={from}&to={to}"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let occurrences = listed.body["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 3, "{}", listed.body);
    let locals: Vec<&str> = occurrences
        .iter()
        .map(|o| o["local_start"].as_str().unwrap())
        .collect();
    assert!(locals[0].ends_with("T20:00:00+01:00"), "{locals:?}");
    assert!(locals[2].ends_with("T20:00:00+02:00"), "{locals:?}");
    let starts: Vec<i64> = occurrences
        .iter()
        .map(|o| o["starts_at"].as_i64().unwrap())
        .collect();
    assert_eq!(starts[1] - starts[0], 7 * 86_400_000);
    assert_eq!(starts[2] - starts[1], 7 * 86_400_000 - 3_600_000);
    assert_eq!(listed.body["slots"].as_array().unwrap().len(), 1);

    // The default window is the next 7 days: one Friday; a window over 31 days is refused.
    let week = as_user(&server, &anyone, "GET", &path, None).await;
    assert_eq!(
        week.body["occurrences"].as_array().unwrap().len(),
        1,
        "{}",
        week.body
    );
    let long = as_user(
        &server,
        &anyone,
        "GET",
        &format!("{path}?from=0&to={}", 40 * 86_400_000i64),
        None,
    )
    .await;
    assert_eq!(long.status, 422);
    server.stop().await;
}

async fn follows_are_counted_and_listed(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let fan = server.user("fan").await;
    let stream = as_user(
        &server,
        &dj,
        "POST",
        "/api/v2/streams",
        Some(json!({"title": "Followed"})),
    )
    .await;
    let id = stream.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v2/streams/{id}/follow");
    let state = as_user(&server, &fan, "GET", &path, None).await;
    assert_eq!(state.body, json!({"following": false, "followers": 0}));
    for _ in 0..2 {
        let put = as_user(&server, &fan, "PUT", &path, None).await;
        assert_eq!(put.body, json!({"following": true, "followers": 1}));
    }
    let mine = as_user(&server, &fan, "GET", "/api/v2/users/me/follows", None).await;
    assert_eq!(mine.body["streams"][0]["id"], id.as_str(), "{}", mine.body);
    assert_eq!(mine.body["streams"].as_array().unwrap().len(), 1);
    let dj_view = as_user(&server, &dj, "GET", &path, None).await;
    assert_eq!(dj_view.body, json!({"following": false, "followers": 1}));
    let gone = as_user(&server, &fan, "DELETE", &path, None).await;
    assert_eq!(gone.body, json!({"following": false, "followers": 0}));
    let none = as_user(&server, &dj, "PUT", "/api/v2/streams/12345/follow", None).await;
    assert_eq!(none.status, 404);
    server.stop().await;
}

/// A one-off slot `seconds` from now (UTC, to the second), two minutes long.
fn soon(seconds: i64) -> Value {
    let at = Utc::now() + Days::seconds(seconds);
    json!({"kind": "once", "date": at.format("%Y-%m-%d").to_string(),
           "time": at.format("%H:%M:%S").to_string(), "time_zone": "UTC", "duration_minutes": 2})
}

fn show_entries(c: &Cluster, node: usize, user: &User) -> Vec<Value> {
    let feed = c.call(
        node,
        "GET",
        "/api/v2/notifications",
        Some(&user.token),
        None,
        200,
    );
    feed["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "show_starting")
        .cloned()
        .collect()
}

async fn followers_on_every_node_hear_a_show_start_once(kind: Kind) {
    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let c = Cluster::start_on(kind, 2, &redis, &[("VEZA_SCHEDULE_TICK_MS", "200")]);
    let dj = c.register(0, "deejay");
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let carol = c.register(1, "carol");
    let room = c.room(0, &dj, "studio");
    let mut streams = Vec::new();
    for title in ["first show", "second show"] {
        let s = c.call(
            0,
            "POST",
            "/api/v2/streams",
            Some(&dj.token),
            Some(json!({"title": title, "room_id": room})),
            201,
        );
        streams.push(s["id"].as_str().unwrap().to_owned());
    }
    let (first, second) = (&streams[0], &streams[1]);
    // Alice (node 0) and Bob (node 1) follow both; Carol only the second.
    for (node, user, ids) in [
        (0, &alice, vec![first, second]),
        (1, &bob, vec![first, second]),
        (1, &carol, vec![second]),
    ] {
        for id in ids {
            c.call(
                node,
                "PUT",
                &format!("/api/v2/streams/{id}/follow"),
                Some(&user.token),
                None,
                200,
            );
        }
    }
    let mut a = c.ws(0, &alice).await;
    let mut b = c.ws(1, &bob).await;
    let mut k = c.ws(1, &carol).await;
    // The dj listens in the room from node 1.
    let (mut room_ws, _) = c.joined(1, &dj, &room, None).await;

    // The first show opens in a few seconds, the second a few seconds later: the next
    // show_starting after the first one's must be the second's, never a repeat.
    c.call(
        0,
        "POST",
        &format!("/api/v2/streams/{first}/schedule"),
        Some(&dj.token),
        Some(soon(4)),
        201,
    );
    c.call(
        1,
        "POST",
        &format!("/api/v2/streams/{second}/schedule"),
        Some(&dj.token),
        Some(soon(8)),
        201,
    );

    for (who, ws) in [("alice", &mut a), ("bob", &mut b)] {
        let one = ws.recv_type("show_starting").await;
        assert_eq!(one["stream"]["id"], first.as_str(), "{who}: {one}");
        assert_eq!(one["room"], room.as_str());
        let two = ws.recv_type("show_starting").await;
        assert_eq!(
            two["stream"]["id"],
            second.as_str(),
            "{who} heard the first show twice: {two}"
        );
    }
    let carols = k.recv_type("show_starting").await;
    assert_eq!(
        carols["stream"]["id"],
        second.as_str(),
        "carol follows only the second: {carols}"
    );
    let in_room = room_ws.recv_type("show_starting").await;
    assert_eq!(in_room["stream"]["id"], first.as_str());
    let in_room = room_ws.recv_type("show_starting").await;
    assert_eq!(
        in_room["stream"]["id"],
        second.as_str(),
        "the room heard the first twice"
    );

    // The feed: one entry per show followed, whatever node is asked.
    for (node, user, expected) in [
        (1, &alice, vec![second, first]),
        (0, &bob, vec![second, first]),
        (0, &carol, vec![second]),
    ] {
        let entries = eventually(Duration::from_secs(10), "feed entries", || {
            let e = show_entries(&c, node, user);
            (e.len() >= expected.len()).then_some(e)
        })
        .await;
        let got: Vec<&str> = entries
            .iter()
            .map(|e| e["stream"]["id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, want, "{}: {entries:?}", user.name);
        assert_eq!(entries[0]["room"]["id"], room.as_str());
        assert_eq!(entries[0]["stream"]["title"], "second show");
    }
}

on_both_backends!(
    slots_are_validated_and_conflicts_refused,
    the_schedule_lists_occurrences_in_local_time_across_dst,
    follows_are_counted_and_listed,
    followers_on_every_node_hear_a_show_start_once,
);
