//! Roles and permissions: a table-driven walk of every guarded REST endpoint and every WebSocket
//! command with every global role, against the role table; then the admin API itself.

mod common;

use common::audio::{create_stream, http};
use common::server::{TestServer, TestUser};
use common::{Kind, TestDb};
use serde_json::{json, Value};
use veza::auth::permission::grants;
use veza::auth::Role;
use veza_actors::permission::Permission as P;

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    needs: Option<P>,
}

async fn every_endpoint_and_command_checks_its_permission(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let owner = server.user("owner").await;
    let victim = server.user("victim").await;
    let stream = create_stream(&server, &owner, "Someone Else's").await;
    let room = server.room(&owner, "lobby", false).await;
    let config = &server.state.config;
    for role in Role::ALL {
        let who = server.user_with_role(&format!("as_{role}"), role).await;
        let may = grants(role, config);
        let cases = [
            Case {
                name: "me",
                method: "GET",
                path: "/api/v2/users/me".into(),
                body: None,
                needs: None,
            },
            Case {
                name: "create room",
                method: "POST",
                path: "/api/v2/rooms".into(),
                body: Some(json!({"name": format!("room of {role}")})),
                needs: Some(P::RoomsCreate),
            },
            Case {
                name: "create stream",
                method: "POST",
                path: "/api/v2/streams".into(),
                body: Some(json!({"title": "mine"})),
                needs: Some(P::StreamsCreate),
            },
            Case {
                name: "clip",
                method: "POST",
                path: format!("/api/v2/streams/{}/clips", stream.id),
                body: Some(json!({"from": 3, "to": 0})),
                needs: Some(P::ClipsCreate),
            },
            Case {
                name: "rotate another's key",
                method: "POST",
                path: format!("/api/v2/streams/{}/key", stream.id),
                body: None,
                needs: Some(P::StreamsManage),
            },
            Case {
                name: "another's effects",
                method: "PUT",
                path: format!("/api/v2/streams/{}/effects", stream.id),
                body: Some(json!({"chain": []})),
                needs: Some(P::StreamsManage),
            },
            Case {
                name: "another's metadata",
                method: "PUT",
                path: format!("/api/v2/streams/{}/metadata", stream.id),
                body: Some(json!({"title": "x"})),
                needs: Some(P::StreamsManage),
            },
            Case {
                name: "list users",
                method: "GET",
                path: "/api/v2/admin/users".into(),
                body: None,
                needs: Some(P::UsersManage),
            },
            Case {
                name: "disable",
                method: "POST",
                path: format!("/api/v2/admin/users/{}/disable", victim.id),
                body: None,
                needs: Some(P::UsersManage),
            },
            Case {
                name: "enable",
                method: "POST",
                path: format!("/api/v2/admin/users/{}/enable", victim.id),
                body: None,
                needs: Some(P::UsersManage),
            },
            Case {
                name: "change role",
                method: "PUT",
                path: format!("/api/v2/admin/users/{}/role", victim.id),
                body: Some(json!({"role": "user"})),
                needs: Some(P::UsersManage),
            },
            Case {
                name: "revoke sessions",
                method: "POST",
                path: format!("/api/v2/admin/users/{}/revoke-sessions", victim.id),
                body: None,
                needs: Some(P::UsersManage),
            },
            Case {
                name: "reset 2fa",
                method: "POST",
                path: format!("/api/v2/admin/users/{}/reset-2fa", victim.id),
                body: None,
                needs: Some(P::UsersManage),
            },
            Case {
                name: "audit",
                method: "GET",
                path: "/api/v2/admin/audit".into(),
                body: None,
                needs: Some(P::AuditRead),
            },
            Case {
                name: "production validation",
                method: "GET",
                path: "/api/v2/production-validation".into(),
                body: None,
                needs: Some(P::SystemRead),
            },
        ];
        for case in cases {
            let (status, body) = http(
                &server,
                case.method,
                &case.path,
                Some(&who.token),
                case.body,
            )
            .await;
            let allowed = case.needs.is_none_or(|p| may.allows(p));
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{role} should be allowed to {}: {status} {body}",
                    case.name
                );
            } else {
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (403, Some("forbidden")),
                    "{role} should not be allowed to {}: {body}",
                    case.name
                );
            }
        }
        if !may.allows(P::RoomsJoinPublic) {
            // Bots join only rooms they were invited to.
            let mut by_owner = server.ws(&owner).await;
            by_owner.join(&room).await;
            by_owner
                .say(&room, &format!("/invite @{}", who.name), "invite")
                .await;
        }
        ws_commands(&server, &who, role, &room).await;
    }
}

/// Every command a role's grants allow works over the WebSocket; the others get `forbidden`.
async fn ws_commands(server: &TestServer, who: &TestUser, role: Role, room: &str) {
    let may = grants(role, &server.state.config);
    let mut ws = server.ws(who).await;
    let joined = ws.join(room).await;
    assert_eq!(joined["type"], "joined", "{role}: {joined}");
    ws.send(json!({"type": "send", "room": room, "body": format!("hi from {role}"), "client_id": "p1", "ref": 7}))
        .await;
    let reply = ws.recv_type_any(&["ack", "error"]).await;
    let expected = if may.allows(P::ChatSend) {
        "ack"
    } else {
        "error"
    };
    assert_eq!(reply["type"], expected, "{role}: {reply}");
    ws.send(json!({"type": "typing", "room": room})).await;
    ws.send(json!({"type": "history", "room": room, "ref": 8}))
        .await;
    let history = ws.recv_type_any(&["history", "error"]).await;
    assert_eq!(history["type"], "history", "{role}: {history}");
}

/// The table itself, pinned: the expectations a community would rely on.
async fn the_role_table_says_what_each_role_may_do(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let config = &server.state.config;
    let g = |r| grants(r, config);
    assert!(P::ALL.iter().all(|p| g(Role::Admin).allows(*p)));
    assert!(g(Role::Moderator).allows(P::RoomsModerate));
    assert!(
        [Role::Moderator, Role::Broadcaster, Role::User, Role::Bot]
            .iter()
            .all(|r| !g(*r).allows(P::AuditRead)),
        "only admins read the audit log (it holds IPs and user agents)"
    );
    assert!(
        [Role::Moderator, Role::Broadcaster, Role::User, Role::Bot]
            .iter()
            .all(|r| !g(*r).allows(P::SystemRead)),
        "the production checklist is for admins"
    );
    assert!(
        !g(Role::Moderator).allows(P::UsersManage)
            && !g(Role::Moderator).allows(P::RoomsAdminister)
    );
    assert!(g(Role::Broadcaster).allows(P::StreamsBroadcast));
    assert!(!g(Role::User).allows(P::AuditRead) && !g(Role::User).allows(P::StreamsManage));
    assert!(g(Role::Bot).allows(P::ChatSend) && !g(Role::Bot).allows(P::RoomsCreate));
    assert!(!g(Role::Bot).allows(P::StreamsCreate));
    assert!(
        !g(Role::Bot).allows(P::BotsCreate) && !g(Role::Bot).allows(P::RoomsJoinPublic),
        "bots make no bots and join only rooms they were invited to"
    );
    assert!([Role::Moderator, Role::Broadcaster, Role::User]
        .iter()
        .all(|r| g(*r).allows(P::BotsCreate) && g(*r).allows(P::RoomsJoinPublic)));
    let strict = common::server::config_with(&db, &[("VEZA_STREAMS_REQUIRE_BROADCASTER", "true")]);
    assert!(!grants(Role::User, &strict).allows(P::StreamsCreate));
    assert!(grants(Role::Broadcaster, &strict).allows(P::StreamsCreate));
}

on_both_backends!(
    every_endpoint_and_command_checks_its_permission,
    the_role_table_says_what_each_role_may_do,
);
