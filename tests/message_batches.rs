//! How the store commits a batch of new messages, on both backends (on PostgreSQL a batch of only
//! new messages is one statement, `db::message_commit`, and falls back to the general path when a
//! constraint refuses it): seqs follow submission order per room with no gap, a repeated
//! `client_id` (stored earlier or earlier in the batch) returns the original, a message to a
//! missing room fails alone, and nothing refused leaves a row or a seq behind.

mod common;

use common::{Kind, TestDb};
use diesel::prelude::*;
use std::sync::Arc;
use veza::db::chat_store::DieselChatStore;
use veza::db::DbConnection;
use veza_actors::model::{MessageKind, MessageView, UserRef};
use veza_actors::store::{Applied, ChatStore, RequestResult, Write, WriteError};
use veza_actors::{IdGenerator, RoomId, UserId};

fn setup(db: &TestDb) -> DieselChatStore {
    let pool = db.pool();
    let conn = &mut *pool.get().unwrap();
    diesel::sql_query(
        "INSERT INTO users (id, username, username_lower, password_hash, role, disabled, \
         created_at, updated_at, email_verified) \
         VALUES (1, 'alice', 'alice', 'x', 'user', FALSE, 1, 1, FALSE)",
    )
    .execute(conn)
    .unwrap();
    for (id, name) in [(10, "general"), (20, "random")] {
        diesel::sql_query(format!(
            "INSERT INTO rooms (id, name, private, owner_id, last_seq, slow_mode_s, created_at, \
             updated_at) VALUES ({id}, '{name}', FALSE, 1, 0, 0, 1, 1)"
        ))
        .execute(conn)
        .unwrap();
    }
    DieselChatStore::new(pool, Arc::new(IdGenerator::new(5)))
}

fn message(room: i64, body: &str, client_id: Option<&str>) -> Write {
    Write::Message {
        room: RoomId(room),
        author: UserRef {
            id: UserId(1),
            username: "alice".into(),
        },
        kind: MessageKind::User,
        body: body.into(),
        client_id: client_id.map(Into::into),
        thread: None,
        attachments: Vec::new(),
    }
}

/// The message a request's one write committed (or returned as the original), and whether it was
/// a duplicate.
fn committed(result: &RequestResult) -> (MessageView, bool) {
    match result.as_ref().expect("request committed").as_slice() {
        [Applied::Message { message, duplicate }] => (message.clone(), *duplicate),
        other => panic!("expected one message, got {other:?}"),
    }
}

/// (seq, body) of every stored message of `room`, in seq order.
fn stored(db: &TestDb, room: i64) -> Vec<(i64, String)> {
    use veza::db::schema::messages;
    let conn: &mut DbConnection = &mut db.pool().get().unwrap();
    messages::table
        .filter(messages::room_id.eq(room))
        .order(messages::seq.asc())
        .select((messages::seq, messages::body))
        .load(conn)
        .unwrap()
}

fn last_seq(db: &TestDb, room: i64) -> i64 {
    use veza::db::schema::rooms;
    let conn: &mut DbConnection = &mut db.pool().get().unwrap();
    rooms::table
        .find(room)
        .select(rooms::last_seq)
        .first(conn)
        .unwrap()
}

async fn seqs_follow_submission_order_in_each_room(kind: Kind) {
    let db = TestDb::new(kind);
    let mut store = setup(&db);
    let batch = vec![
        vec![message(10, "a1", Some("c1"))],
        vec![message(20, "b1", None)],
        vec![message(10, "a2", None), message(10, "a3", Some("c3"))],
        vec![message(20, "b2", Some("c4"))],
    ];
    let results = store.apply(&batch).unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(committed(&results[0]).0.seq, 1);
    assert_eq!(committed(&results[1]).0.seq, 1);
    let two: Vec<i64> = match results[2].as_ref().unwrap().as_slice() {
        [Applied::Message { message: a, .. }, Applied::Message { message: b, .. }] => {
            vec![a.seq, b.seq]
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(two, vec![2, 3]);
    let (b2, duplicate) = committed(&results[3]);
    assert_eq!((b2.seq, b2.room, duplicate), (2, RoomId(20), false));
    assert_eq!(b2.body, "b2");
    assert_eq!(
        stored(&db, 10),
        vec![(1, "a1".into()), (2, "a2".into()), (3, "a3".into())]
    );
    assert_eq!(stored(&db, 20), vec![(1, "b1".into()), (2, "b2".into())]);
    assert_eq!((last_seq(&db, 10), last_seq(&db, 20)), (3, 2));
    // The next batch goes on from there.
    let results = store.apply(&[vec![message(10, "a4", None)]]).unwrap();
    assert_eq!(committed(&results[0]).0.seq, 4);
}

async fn a_repeated_client_id_returns_the_original_and_leaves_no_gap(kind: Kind) {
    let db = TestDb::new(kind);
    let mut store = setup(&db);
    let first = store
        .apply(&[vec![message(10, "hello", Some("c1"))]])
        .unwrap();
    let (original, _) = committed(&first[0]);
    // The resend of c1 beside new messages, and a client_id repeated inside the batch.
    let batch = vec![
        vec![message(10, "new one", None)],
        vec![message(10, "hello again", Some("c1"))],
        vec![message(10, "twice", Some("c2"))],
        vec![message(10, "twice, resent", Some("c2"))],
        vec![message(10, "last", None)],
    ];
    let results = store.apply(&batch).unwrap();
    let got: Vec<(i64, String, bool)> = results
        .iter()
        .map(committed)
        .map(|(m, d)| (m.seq, m.body, d))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "new one".into(), false),
            (1, "hello".into(), true),
            (3, "twice".into(), false),
            (3, "twice".into(), true),
            (4, "last".into(), false),
        ]
    );
    assert_eq!(committed(&results[1]).0.id, original.id);
    assert_eq!(stored(&db, 10).len(), 4);
    assert_eq!(last_seq(&db, 10), 4);
}

async fn a_message_to_a_missing_room_fails_alone(kind: Kind) {
    let db = TestDb::new(kind);
    let mut store = setup(&db);
    let batch = vec![
        vec![message(10, "here", None)],
        vec![message(99, "nowhere", None)],
        vec![message(20, "there", Some("c9"))],
    ];
    let results = store.apply(&batch).unwrap();
    assert_eq!(committed(&results[0]).0.seq, 1);
    assert!(
        matches!(results[1], Err(WriteError::NotFound(_))),
        "{:?}",
        results[1]
    );
    assert_eq!(committed(&results[2]).0.seq, 1);
    assert_eq!(stored(&db, 10), vec![(1, "here".into())]);
    assert_eq!(stored(&db, 20), vec![(1, "there".into())]);
    assert_eq!((last_seq(&db, 10), last_seq(&db, 20)), (1, 1));
    // A batch that is only the bad request changes nothing at all.
    let results = store.apply(&[vec![message(99, "nowhere", None)]]).unwrap();
    assert!(matches!(results[0], Err(WriteError::NotFound(_))));
    assert_eq!(last_seq(&db, 10), 1);
}

/// The one-statement path itself (PostgreSQL only, as the path is): it commits plain batches, and
/// declines, writing nothing, what the general path must answer.
#[actix_web::test]
async fn the_one_statement_path_commits_plain_batches_and_declines_the_rest() {
    use veza::db::message_commit::{commit, Outcome};
    let db = TestDb::new(Kind::Postgres);
    let _store = setup(&db);
    let ids = IdGenerator::new(6);
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let DbConnection::Postgres(pg) = &mut *conn else {
        panic!("a PostgreSQL connection")
    };
    let plain = vec![
        vec![message(10, "a", Some("k1"))],
        vec![message(20, "b", None), message(10, "c", None)],
    ];
    let Outcome::Done { results, .. } = commit(pg, &ids, &plain, 7).unwrap() else {
        panic!("a plain batch is committed in one statement")
    };
    assert_eq!(committed(&results[0]).0.seq, 1);
    drop(conn);
    assert_eq!(stored(&db, 10), vec![(1, "a".into()), (2, "c".into())]);
    let mut conn = pool.get().unwrap();
    let DbConnection::Postgres(pg) = &mut *conn else {
        unreachable!()
    };
    let declined = |outcome| matches!(outcome, Outcome::Declined);
    // A client_id already stored, a missing room, a thread reply, another kind of write.
    let repeated = vec![
        vec![message(10, "again", Some("k1"))],
        vec![message(10, "d", None)],
    ];
    assert!(declined(commit(pg, &ids, &repeated, 8).unwrap()));
    assert!(declined(
        commit(pg, &ids, &[vec![message(99, "x", None)]], 8).unwrap()
    ));
    let mut reply = message(10, "re", None);
    if let Write::Message { thread, .. } = &mut reply {
        *thread = Some(committed(&results[0]).0.id);
    }
    assert!(declined(commit(pg, &ids, &[vec![reply]], 8).unwrap()));
    let edit = Write::Edit {
        message: committed(&results[0]).0.id,
        body: "edited".into(),
    };
    assert!(declined(commit(pg, &ids, &[vec![edit]], 8).unwrap()));
    drop(conn);
    // Nothing of the declined attempts stands.
    assert_eq!(stored(&db, 10).len(), 2);
    assert_eq!((last_seq(&db, 10), last_seq(&db, 20)), (2, 1));
}

on_both_backends!(
    seqs_follow_submission_order_in_each_room,
    a_repeated_client_id_returns_the_original_and_leaves_no_gap,
    a_message_to_a_missing_room_fails_alone,
);
