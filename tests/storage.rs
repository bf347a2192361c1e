//! The store on both backends: same schema, same constraints, same query behaviour.

mod common;

use common::{Kind, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use std::collections::BTreeSet;
use veza::db::sessions::{self, NewRefreshToken};
use veza::db::users::{self, NewUser};
use veza::db::DbConnection;

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

fn add_user(conn: &mut DbConnection, id: i64, name: &str) -> Result<(), veza::db::DbError> {
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
    add_user(conn, 1, "Alice").unwrap();
    let err = add_user(conn, 2, "aLiCe").unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
    let found = users::find_by_username(conn, "ALICE").unwrap().unwrap();
    assert_eq!((found.id, found.username.as_str()), (1, "Alice"));
    assert!(users::find_by_username(conn, "bob").unwrap().is_none());
}

async fn a_refresh_token_is_consumed_exactly_once(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    add_user(conn, 1, "alice").unwrap();
    sessions::create_session(conn, 10, 1, 1).unwrap();
    let token = NewRefreshToken {
        id: 100,
        session_id: 10,
        user_id: 1,
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
    assert_eq!(user.id, 1);
}

async fn constraints_hold_on_messages(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    add_user(conn, 1, "alice").unwrap();
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

on_both_backends!(
    the_audit_log_is_append_only,
    usernames_are_unique_ignoring_case,
    a_refresh_token_is_consumed_exactly_once,
    constraints_hold_on_messages,
    migrations_are_idempotent,
);
