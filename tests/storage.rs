//! The store on both backends: same schema, same constraints, same query behaviour.

mod common;

use common::{Kind, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use std::collections::BTreeSet;
use veza::db::sessions::{self, NewRefreshToken};
use veza::db::users::{self, NewUser};
use veza::db::DbConnection;
use veza_actors::UserId;

#[derive(QueryableByName, Debug)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName, Debug)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    col_type: String,
    #[diesel(sql_type = Integer)]
    notnull: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

/// (table, column, type, nullable) for every application table.
fn columns(conn: &mut DbConnection) -> BTreeSet<(String, String, String, bool)> {
    match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             data_type::text AS data_type, is_nullable::text AS is_nullable \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name <> '__diesel_schema_migrations'",
        )
        .load::<PgColumn>(pg)
        .unwrap()
        .into_iter()
        .map(|c| (c.table_name, c.column_name, c.data_type.to_lowercase(), c.is_nullable == "YES"))
        .collect(),
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS name, p.type AS col_type, p.\"notnull\" AS \"notnull\", p.pk AS pk \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations' AND m.name NOT LIKE 'messages_fts%'",
        )
        .load::<SqliteColumn>(lite)
        .unwrap()
        .into_iter()
        // SQLite lets primary-key columns be NULL unless declared NOT NULL; PostgreSQL never does.
        // Binary columns are BLOB there and BYTEA on PostgreSQL; an `INTEGER PRIMARY KEY` (the
        // 64-bit rowid, for ids the store numbers itself) is PostgreSQL's BIGINT identity.
        .map(|c| {
            let ty = c.col_type.to_lowercase();
            let ty = match ty.as_str() {
                "blob" => "bytea".to_owned(),
                "integer" if c.pk == 1 => "bigint".to_owned(),
                _ => ty,
            };
            (c.table_name, c.name, ty, c.notnull == 0 && c.pk == 0)
        })
        .collect(),
    }
}

#[test]
fn both_migration_sets_produce_the_same_tables_and_columns() {
    let pg = TestDb::new(Kind::Postgres);
    let lite = TestDb::new(Kind::Sqlite);
    let pg_cols = columns(&mut pg.pool().get().unwrap());
    let lite_cols = columns(&mut lite.pool().get().unwrap());
    assert!(pg_cols.len() > 40, "schema looks empty: {pg_cols:?}");
    let only_pg: Vec<_> = pg_cols.difference(&lite_cols).collect();
    let only_lite: Vec<_> = lite_cols.difference(&pg_cols).collect();
    assert!(
        only_pg.is_empty() && only_lite.is_empty(),
        "schemas differ\nonly in postgres: {only_pg:#?}\nonly in sqlite: {only_lite:#?}"
    );
    let tables: BTreeSet<_> = pg_cols.iter().map(|c| c.0.as_str()).collect();
    for t in [
        "users",
        "sessions",
        "refresh_tokens",
        "rooms",
        "room_members",
        "messages",
        "reactions",
        "audit_log",
    ] {
        assert!(tables.contains(t), "missing table {t}");
    }
}

fn add_user(conn: &mut DbConnection, id: UserId, name: &str) -> Result<(), veza::db::DbError> {
    let lower = name.to_lowercase();
    users::insert(
        conn,
        &NewUser {
            id,
            username: name,
            username_lower: &lower,
            email: None,
            password_hash: "$argon2id$placeholder",
            role: "user",
            disabled: false,
            created_at: 1,
            updated_at: 1,
            email_verified: false,
        },
    )
}

async fn usernames_are_unique_ignoring_case(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    add_user(conn, UserId(1), "Alice").unwrap();
    let err = add_user(conn, UserId(2), "aLiCe").unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
    let found = users::find_by_username(conn, "ALICE").unwrap().unwrap();
    assert_eq!((found.id, found.username.as_str()), (UserId(1), "Alice"));
    assert!(users::find_by_username(conn, "bob").unwrap().is_none());
}

async fn a_refresh_token_is_consumed_exactly_once(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    add_user(conn, UserId(1), "alice").unwrap();
    sessions::create_session(conn, 10, UserId(1), 1).unwrap();
    let token = NewRefreshToken {
        id: 100,
        session_id: 10,
        user_id: UserId(1),
        token_hash: "abc",
        created_at: 1,
        expires_at: i64::MAX,
    };
    sessions::insert_refresh_token(conn, &token).unwrap();
    assert!(sessions::consume_refresh_token(conn, 100, 5).unwrap());
    assert!(
        !sessions::consume_refresh_token(conn, 100, 6).unwrap(),
        "second use must lose"
    );
    sessions::revoke_session(conn, 10, 7, "logout").unwrap();
    let (session, user) = sessions::find_with_user(conn, 10).unwrap().unwrap();
    assert_eq!(session.revoked_at, Some(7));
    assert_eq!(session.revoked_reason.as_deref(), Some("logout"));
    assert_eq!(user.id, UserId(1));
}

async fn constraints_hold_on_messages(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    add_user(conn, UserId(1), "alice").unwrap();
    let insert_room = |conn: &mut DbConnection| {
        diesel::sql_query(
            "INSERT INTO rooms (id, name, private, owner_id, last_seq, slow_mode_s, created_at, updated_at) \
             VALUES (5, 'general', FALSE, 1, 0, 0, 1, 1)",
        )
        .execute(conn)
    };
    insert_room(conn).unwrap();
    let message = |id: i64, room: i64, seq: i64, client: &str| {
        format!(
            "INSERT INTO messages (id, room_id, seq, author_id, kind, body, client_id, created_at) \
             VALUES ({id}, {room}, {seq}, 1, 'user', 'hi', '{client}', 1)"
        )
    };
    diesel::sql_query(message(1, 5, 1, "c1"))
        .execute(conn)
        .unwrap();
    // Same seq in the same room: refused.
    assert!(diesel::sql_query(message(2, 5, 1, "c2"))
        .execute(conn)
        .is_err());
    // Same client_id from the same author: refused (a resend is not a new message).
    assert!(diesel::sql_query(message(3, 5, 2, "c1"))
        .execute(conn)
        .is_err());
    // Foreign keys are enforced on both backends: no message in a room that does not exist.
    assert!(diesel::sql_query(message(4, 99, 1, "c4"))
        .execute(conn)
        .is_err());
    diesel::sql_query(message(5, 5, 2, "c5"))
        .execute(conn)
        .unwrap();
}

async fn migrations_are_idempotent(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    assert!(veza::db::migrations::run(conn).unwrap().is_empty());
    assert_eq!(veza::db::migrations::pending_count(conn).unwrap(), 0);
}

async fn the_audit_log_is_append_only(kind: Kind) {
    use diesel::prelude::*;
    use veza::db::schema::audit_log;
    let db = TestDb::new(kind);
    let mut conn = db.pool().get().unwrap();
    veza::db::audit::record(
        &mut conn,
        &veza::db::audit::NewAuditEntry {
            id: 1,
            action: "login.failure",
            created_at: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let changed = diesel::update(audit_log::table.find(1_i64))
        .set(audit_log::action.eq("login.success"))
        .execute(&mut *conn);
    assert!(changed.is_err(), "history cannot be rewritten");
    let deleted = diesel::delete(audit_log::table).execute(&mut *conn);
    assert!(deleted.is_err(), "nor erased");
    let kept = veza::db::audit::recent(&mut conn, None, 10).unwrap();
    assert_eq!((kept.len(), kept[0].action.as_str()), (1, "login.failure"));
}

/// Each id newtype goes into its columns and comes back as itself on both backends: written in
/// row structs, read back, and used as a filter (plain, nullable and in bound arrays). The ids are
/// above 2^53, where a detour through a float would lose them.
async fn id_newtypes_round_trip_through_the_store(kind: Kind) {
    use veza::db::messages::{self, NewMessage};
    use veza::db::rooms;
    use veza::db::streams::{self, NewStream};
    use veza::db::uploads::{self, NewUpload};
    use veza_actors::{MessageId, RoomId, StreamId, UploadId, UserId};
    const BIG: i64 = (1 << 53) + 1;
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    let user = UserId(BIG);
    add_user(conn, user, "alice").unwrap();
    assert_eq!(users::find_by_id(conn, user).unwrap().unwrap().id, user);

    let (room, other) = (RoomId(BIG + 1), RoomId(BIG + 2));
    let row = rooms::create(conn, room, "general", None, false, user, 1).unwrap();
    assert_eq!((row.id, row.owner_id), (room, user));
    rooms::create(conn, other, "other", None, true, user, 1).unwrap();
    let visible: Vec<RoomId> = rooms::visible_to(conn, user, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(visible, vec![other, room]);
    assert!(rooms::members(conn, room).unwrap().contains_key(&user));
    let first = rooms::reserve_seqs_many(conn, &[(room, 2), (other, 1)]).unwrap();
    assert_eq!((first.get(&room), first.get(&other)), (Some(&1), Some(&1)));

    let (root, reply) = (MessageId(BIG + 3), MessageId(BIG + 4));
    let message = |id, seq, thread| NewMessage {
        id,
        room_id: room,
        seq,
        author_id: user,
        kind: "user",
        body: "hi",
        thread_id: thread,
        client_id: None,
        created_at: 1,
        also_in_room: false,
    };
    messages::insert_many(
        conn,
        &[message(root, 1, None), message(reply, 2, Some(root))],
    )
    .unwrap();
    let found = messages::find(conn, reply).unwrap().unwrap();
    assert_eq!(
        (found.id, found.room_id, found.author_id, found.thread_id),
        (reply, room, user, Some(root))
    );
    let replies = messages::thread_replies(conn, root, 0, 10).unwrap();
    assert_eq!(
        replies.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![reply]
    );
    let view = messages::view(conn, reply).unwrap().unwrap();
    assert_eq!(
        (view.id, view.room, view.author.id, view.thread),
        (reply, room, user, Some(root))
    );

    let stream = StreamId(BIG + 5);
    streams::insert(
        conn,
        &NewStream {
            id: stream,
            owner_id: user,
            room_id: Some(room),
            title: "live",
            mount: "live",
            key_hash: "x",
            scheduled_at: None,
            created_at: 1,
            updated_at: 1,
        },
    )
    .unwrap();
    let found = streams::find(conn, stream).unwrap().unwrap();
    assert_eq!(
        (found.id, found.owner_id, found.room_id),
        (stream, user, Some(room))
    );
    assert_eq!(streams::count_owned(conn, user).unwrap(), 1);

    let upload = UploadId(BIG + 6);
    uploads::insert(
        conn,
        &NewUpload {
            id: upload,
            owner_id: user,
            room_id: room,
            filename: "a.txt",
            content_type: "text/plain",
            size_bytes: 3,
            sha256: "abc",
            storage_key: "k",
            width: None,
            height: None,
            thumbnail_key: None,
            created_at: 1,
            delete_after: None,
            origin: None,
        },
    )
    .unwrap();
    let bound = uploads::attach(conn, &[upload], root, user, room, 2)
        .unwrap()
        .expect("the upload is alice's, in the room, free");
    assert_eq!(
        (
            bound[0].id,
            bound[0].owner_id,
            bound[0].room_id,
            bound[0].message_id
        ),
        (upload, user, room, Some(root))
    );
    assert_eq!(uploads::used_bytes(conn, user).unwrap(), 3);
    assert_eq!(uploads::find(conn, upload).unwrap().unwrap().id, upload);
}

on_both_backends!(
    id_newtypes_round_trip_through_the_store,
    the_audit_log_is_append_only,
    usernames_are_unique_ignoring_case,
    a_refresh_token_is_consumed_exactly_once,
    constraints_hold_on_messages,
    migrations_are_idempotent,
);
