//! The one-statement commit of a batch that only adds messages, on PostgreSQL.
//!
//! The general path ([`super::chat_store`]) is a transaction of about six round trips (BEGIN,
//! the `client_id` check, the seq reservation, the INSERT, COMMIT). Under light load most batches
//! are one or two new messages, and each round trip costs the writer thread a sleep and a wake-up.
//! Here the whole batch is one statement, so one round trip, committed on its own: the rooms are
//! locked in id order (as on the general path, so writers on several nodes cannot deadlock), their
//! seqs moved on and the messages inserted with the seqs that follows from their place in the
//! batch. The statement is atomic: when the server refuses it (a repeated `client_id` hits the
//! UNIQUE index, a missing room leaves a seq NULL, a value it cannot store) nothing of it stands,
//! and the caller runs the general path, which tells each request what went wrong. The same
//! statement queues the outgoing webhook deliveries of the new messages (a data-modifying CTE
//! joining them to the live hooks of their rooms; see [`super::webhook_outbox`]).

use super::DbError;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use std::collections::HashMap;
use veza_actors::ids::IdGenerator;
use veza_actors::model::MessageView;
use veza_actors::store::{Applied, Request, RequestResult, Write};
use veza_actors::{MessageId, RoomId, UserId};

const COMMIT: &str = "\
WITH want AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS w(id, n)), \
locked AS (SELECT r.id FROM rooms r WHERE r.id IN (SELECT id FROM want) ORDER BY r.id FOR UPDATE), \
bumped AS ( \
  UPDATE rooms SET last_seq = rooms.last_seq + want.n FROM want \
  WHERE rooms.id = want.id AND rooms.id IN (SELECT id FROM locked) \
  RETURNING rooms.id, rooms.last_seq - want.n + 1 AS first), \
ins AS ( \
  INSERT INTO messages (id, room_id, seq, author_id, kind, body, client_id, created_at) \
  SELECT m.id, m.room_id, (SELECT b.first FROM bumped b WHERE b.id = m.room_id) + m.ord, \
         m.author_id, m.kind, m.body, m.client_id, $10 \
  FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[]) \
       AS m(id, room_id, ord, author_id, kind, body, client_id) \
  RETURNING id, seq, room_id, kind), \
queued AS ( \
  INSERT INTO webhook_deliveries (hook_id, event, message_id, status, attempts, next_attempt_at, created_at) \
  SELECT h.id, e.event, ins.id, 'pending', 0, $10, $10 \
  FROM ins \
  CROSS JOIN LATERAL (SELECT CASE ins.kind WHEN 'bot' THEN 'bot_message' WHEN 'system' THEN 'system' \
                      ELSE 'message' END AS event) e \
  JOIN outgoing_webhooks h ON h.room_id = ins.room_id AND h.revoked_at IS NULL \
       AND (' ' || h.events || ' ') LIKE ('% ' || e.event || ' %') \
  ORDER BY ins.room_id, ins.seq, h.id \
  RETURNING 1) \
SELECT id, seq, (SELECT count(*) FROM queued) AS queued FROM ins";

#[derive(QueryableByName)]
struct Committed {
    #[diesel(sql_type = BigInt)]
    id: MessageId,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    /// Outgoing webhook deliveries the statement queued (the same on every row).
    #[diesel(sql_type = BigInt)]
    queued: i64,
}

/// What became of the attempt.
pub enum Outcome {
    /// Committed: one result per request, and how many webhook deliveries were queued with it.
    Done {
        results: Vec<RequestResult>,
        queued: usize,
    },
    /// Not for this path (other writes, threads, mentions, direct conversations, attachments) or refused by a constraint: nothing was written;
    /// run the general path.
    Declined,
}

/// Commits `batch` in one statement if it only adds top-level messages.
pub fn commit(
    pg: &mut PgConnection,
    ids: &IdGenerator,
    batch: &[Request],
    now: i64,
) -> Result<Outcome, DbError> {
    let only_new_messages = batch
        .iter()
        .flatten()
        .all(|w| matches!(w, Write::Message { thread: None, extras, .. } if extras.is_plain()));
    if !only_new_messages || batch.iter().all(|r| r.is_empty()) {
        return Ok(Outcome::Declined);
    }
    let rows = Rows::plan(ids, batch);
    let committed: Vec<Committed> = match diesel::sql_query(COMMIT)
        .bind::<Array<BigInt>, _>(&rows.want_rooms)
        .bind::<Array<BigInt>, _>(&rows.want_counts)
        .bind::<Array<BigInt>, _>(&rows.ids)
        .bind::<Array<BigInt>, _>(&rows.rooms)
        .bind::<Array<BigInt>, _>(&rows.ords)
        .bind::<Array<BigInt>, _>(&rows.authors)
        .bind::<Array<Text>, _>(&rows.kinds)
        .bind::<Array<Text>, _>(&rows.bodies)
        .bind::<Array<Nullable<Text>>, _>(&rows.client_ids)
        .bind::<BigInt, _>(now)
        .load(pg)
    {
        Ok(c) => c,
        // The connection is gone: the general path would fail the same way.
        Err(
            e @ DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ),
        ) => return Err(e.into()),
        // Refused by the server (a constraint, a bad value): nothing stands; the general path
        // finds which request it was and fails that one alone.
        Err(DieselError::DatabaseError(..)) => return Ok(Outcome::Declined),
        Err(e) => return Err(e.into()),
    };
    let queued = committed.first().map_or(0, |c| c.queued.max(0) as usize);
    let seqs: HashMap<MessageId, i64> = committed.into_iter().map(|c| (c.id, c.seq)).collect();
    if seqs.len() != rows.ids.len() {
        return Err(DbError::Inconsistent(format!(
            "committed {} of {} messages",
            seqs.len(),
            rows.ids.len()
        )));
    }
    let mut next = rows.ids.iter();
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        let mut applied = Vec::with_capacity(request.len());
        for write in request {
            let (
                Write::Message {
                    room,
                    author,
                    kind,
                    body,
                    ..
                },
                Some(id),
            ) = (write, next.next())
            else {
                return Err(DbError::Inconsistent(
                    "batch changed while committing".into(),
                ));
            };
            let seq = seqs.get(id).copied().unwrap_or_default();
            applied.push(Applied::Message {
                message: MessageView::committed(
                    *id,
                    *room,
                    seq,
                    *kind,
                    author.clone(),
                    body.clone(),
                    now,
                ),
                duplicate: false,
                notified: Vec::new(),
                root: None,
            });
        }
        results.push(Ok(applied));
    }
    Ok(Outcome::Done { results, queued })
}

/// The statement's arrays: one element per message, in batch order, and the count per room.
struct Rows<'a> {
    want_rooms: Vec<RoomId>,
    want_counts: Vec<i64>,
    ids: Vec<MessageId>,
    rooms: Vec<RoomId>,
    /// The message's place among its room's messages in this batch (its seq = first + ord).
    ords: Vec<i64>,
    authors: Vec<UserId>,
    kinds: Vec<&'a str>,
    bodies: Vec<&'a str>,
    client_ids: Vec<Option<&'a str>>,
}

impl<'a> Rows<'a> {
    fn plan(ids: &IdGenerator, batch: &'a [Request]) -> Self {
        let mut per_room: HashMap<RoomId, i64> = HashMap::new();
        let mut rows = Rows {
            want_rooms: Vec::new(),
            want_counts: Vec::new(),
            ids: Vec::new(),
            rooms: Vec::new(),
            ords: Vec::new(),
            authors: Vec::new(),
            kinds: Vec::new(),
            bodies: Vec::new(),
            client_ids: Vec::new(),
        };
        for write in batch.iter().flatten() {
            let Write::Message {
                room,
                author,
                kind,
                body,
                client_id,
                ..
            } = write
            else {
                continue;
            };
            let ord = per_room.entry(*room).or_default();
            rows.ids.push(MessageId(ids.next_id()));
            rows.rooms.push(*room);
            rows.ords.push(*ord);
            *ord += 1;
            rows.authors.push(author.id);
            rows.kinds.push(kind.as_str());
            rows.bodies.push(body);
            rows.client_ids.push(client_id.as_deref());
        }
        let mut wants: Vec<(RoomId, i64)> = per_room.into_iter().collect();
        wants.sort_unstable();
        (rows.want_rooms, rows.want_counts) = wants.into_iter().unzip();
        rows
    }
}
