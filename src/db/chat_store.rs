//! The diesel implementation of the actors' storage port ([`ChatStore`]).
//!
//! A batch is applied in one transaction: first the checks (duplicate `client_id`s, threads), then
//! sequence numbers reserved per room in one UPDATE each, then all new messages in multi-row
//! INSERTs, then the other writes. If any request is invalid the transaction is rolled back and
//! each request is applied in a transaction of its own, so one bad request cannot sink the others.

use super::message_commit::{self, Outcome};
use super::messages::{self, NewMessage};
use super::webhook_outbox::{self, OutboxWaker};
use super::{bot_commands, rooms, users, DbConnection, DbError, DbPool};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use veza_actors::ids::{now_ms, IdGenerator};
use veza_actors::model::{MessageView, RoomSnapshot, UserRef};
use veza_actors::store::{
    Applied, ChatStore, Request, RequestResult, SessionStanding, StoreError, Write, WriteError,
};
use veza_actors::{MessageId, RoomId, UserId};

/// `upload_grace_s`'s default, for stores built without a config (tools, tests).
const DEFAULT_UPLOAD_GRACE_MS: i64 = 3_600_000;

pub struct DieselChatStore {
    pool: DbPool,
    pub(super) ids: Arc<IdGenerator>,
    /// Told when a commit queued outgoing webhook deliveries.
    on_queued: Option<OutboxWaker>,
    /// How long a deleted message's uploads stay before the sweeper deletes them, in ms.
    pub(super) upload_grace_ms: i64,
}

impl DieselChatStore {
    pub fn new(pool: DbPool, ids: Arc<IdGenerator>) -> Self {
        Self {
            pool,
            ids,
            on_queued: None,
            upload_grace_ms: DEFAULT_UPLOAD_GRACE_MS,
        }
    }

    /// Sets how long a deleted message's uploads are kept (`upload_grace_s`).
    pub fn with_upload_grace(mut self, grace: std::time::Duration) -> Self {
        self.upload_grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Calls `waker` after each commit that queued webhook deliveries (the node's dispatcher
    /// then takes them at once instead of at its next poll).
    pub fn with_outbox_waker(mut self, waker: OutboxWaker) -> Self {
        self.on_queued = Some(waker);
        self
    }

    fn queued(&self, n: usize) {
        if let (true, Some(wake)) = (n > 0, &self.on_queued) {
            wake();
        }
    }

    fn conn(&self) -> Result<super::pool::PooledConnection, StoreError> {
        self.pool.get().map_err(|e| StoreError(e.to_string()))
    }
}

/// Why a transaction was rolled back.
pub(super) enum TxError {
    /// One request is invalid on its own.
    Request(WriteError),
    Db(DbError),
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(DbError::Query(e))
    }
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl ChatStore for DieselChatStore {
    fn apply(&mut self, batch: &[Request]) -> Result<Vec<RequestResult>, StoreError> {
        let mut conn = self.conn()?;
        if let DbConnection::Postgres(pg) = &mut *conn {
            match message_commit::commit(pg, &self.ids, batch, now_ms() as i64) {
                Ok(Outcome::Done {
                    mut results,
                    queued,
                }) => {
                    self.queued(queued);
                    super::emoji::resolve_committed(&mut conn, &mut results);
                    return Ok(results);
                }
                Ok(Outcome::Declined) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        match super::write_txn::write_transaction(&mut conn, |c| self.apply_with_outbox(c, batch)) {
            Ok((results, queued)) => {
                self.queued(queued);
                Ok(results)
            }
            Err(TxError::Db(e)) if batch.len() == 1 => Err(store_error(e)),
            Err(TxError::Request(e)) if batch.len() == 1 => Ok(vec![Err(e)]),
            Err(_) => {
                // Isolate the culprit: each request on its own.
                let mut results = Vec::with_capacity(batch.len());
                for request in batch {
                    let one = std::slice::from_ref(request);
                    results.push(
                        match super::write_txn::write_transaction(&mut conn, |c| {
                            self.apply_with_outbox(c, one)
                        }) {
                            Ok((mut r, queued)) => {
                                self.queued(queued);
                                r.pop().unwrap_or_else(|| {
                                    Err(WriteError::Unavailable("empty result".into()))
                                })
                            }
                            Err(TxError::Request(e)) => Err(e),
                            Err(TxError::Db(e)) => Err(WriteError::Unavailable(e.to_string())),
                        },
                    );
                }
                Ok(results)
            }
        }
    }

    fn load_room(
        &mut self,
        room: RoomId,
        recent: usize,
    ) -> Result<Option<RoomSnapshot>, StoreError> {
        let mut conn = self.conn()?;
        let conn = &mut *conn;
        let Some(row) = rooms::find(conn, room.0).map_err(store_error)? else {
            return Ok(None);
        };
        let members = rooms::members(conn, room.0).map_err(store_error)?;
        let rows =
            messages::before(conn, room.0, row.last_seq + 1, recent as i64).map_err(store_error)?;
        let mut recent = messages::views(conn, rows).map_err(store_error)?;
        recent.reverse();
        let commands = bot_commands::for_room(conn, room).map_err(store_error)?;
        Ok(Some(RoomSnapshot {
            info: row.info(),
            members,
            recent,
            commands,
        }))
    }

    fn messages_after(
        &mut self,
        room: RoomId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut conn = self.conn()?;
        let rows = messages::after(&mut conn, room.0, after, limit as i64).map_err(store_error)?;
        messages::views(&mut conn, rows).map_err(store_error)
    }

    fn messages_before(
        &mut self,
        room: RoomId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut conn = self.conn()?;
        let rows =
            messages::before(&mut conn, room.0, before, limit as i64).map_err(store_error)?;
        messages::views(&mut conn, rows).map_err(store_error)
    }

    fn message_owner(
        &mut self,
        message: MessageId,
    ) -> Result<Option<(RoomId, UserId)>, StoreError> {
        let mut conn = self.conn()?;
        Ok(messages::find(&mut conn, message.0)
            .map_err(store_error)?
            .map(|m| (RoomId(m.room_id), UserId(m.author_id))))
    }

    fn session_standing(&mut self, sessions: &[i64]) -> Result<Vec<SessionStanding>, StoreError> {
        let mut conn = self.conn()?;
        super::sessions::standing(&mut conn, sessions).map_err(store_error)
    }

    fn find_user(&mut self, username: &str) -> Result<Option<UserRef>, StoreError> {
        let mut conn = self.conn()?;
        Ok(users::find_by_username(&mut conn, username)
            .map_err(store_error)?
            .map(|u| UserRef {
                id: UserId(u.id),
                username: u.username,
            }))
    }
}

/// What happens to each message write of the batch: a new row (its id), or a repeat of an
/// earlier (author, client_id).
enum Planned {
    New,
    Duplicate((i64, String)),
}

impl DieselChatStore {
    /// The batch's writes and, in the same transaction, the webhook deliveries of its events:
    /// the results and how many deliveries were queued.
    fn apply_with_outbox(
        &self,
        conn: &mut DbConnection,
        batch: &[Request],
    ) -> Result<(Vec<RequestResult>, usize), TxError> {
        let results = self.apply_all(conn, batch)?;
        let events = webhook_outbox::events_of(batch, &results);
        let queued = webhook_outbox::enqueue(conn, &events, now_ms() as i64)?;
        Ok((results, queued))
    }

    fn apply_all(
        &self,
        conn: &mut DbConnection,
        batch: &[Request],
    ) -> Result<Vec<RequestResult>, TxError> {
        let now = now_ms() as i64;

        // 1. Checks: repeated client_ids (in the store or earlier in this batch) and threads.
        let pairs: Vec<(i64, &str)> = batch
            .iter()
            .flatten()
            .filter_map(|w| match w {
                Write::Message {
                    author,
                    client_id: Some(c),
                    ..
                } => Some((author.id.0, c.as_str())),
                _ => None,
            })
            .collect();
        let existing = messages::by_client_ids(conn, &pairs)?;
        let threads: Vec<i64> = batch
            .iter()
            .flatten()
            .filter_map(|w| match w {
                Write::Message {
                    thread: Some(t), ..
                } => Some(t.0),
                _ => None,
            })
            .collect();
        let thread_rooms = messages::rooms_of(conn, &threads)?;

        // 2. Plan the new messages; count them per room.
        let mut seen: HashSet<(i64, String)> = HashSet::new();
        let mut per_room: HashMap<i64, i64> = HashMap::new();
        let mut plan: HashMap<(usize, usize), Planned> = HashMap::new();
        for (ri, request) in batch.iter().enumerate() {
            for (wi, write) in request.iter().enumerate() {
                let Write::Message {
                    room,
                    author,
                    client_id,
                    thread,
                    ..
                } = write
                else {
                    continue;
                };
                if let Some(c) = client_id {
                    let key = (author.id.0, c.clone());
                    if existing.contains_key(&key) || seen.contains(&key) {
                        plan.insert((ri, wi), Planned::Duplicate(key));
                        continue;
                    }
                    seen.insert(key);
                }
                if let Some(t) = thread {
                    if thread_rooms.get(&t.0) != Some(&room.0) {
                        return Err(TxError::Request(WriteError::Invalid(
                            "thread must be a message in the same room".into(),
                        )));
                    }
                }
                *per_room.entry(room.0).or_default() += 1;
                plan.insert((ri, wi), Planned::New);
            }
        }

        // 3. Reserve seqs for every room at once (in room order, so concurrent writers lock rows
        // in one order).
        let mut wants: Vec<(i64, i64)> = per_room.into_iter().collect();
        wants.sort_unstable();
        let mut next_seq = rooms::reserve_seqs_many(conn, &wants)?;
        if next_seq.len() < wants.len() {
            return Err(TxError::Request(WriteError::NotFound(
                "no such room".into(),
            )));
        }

        // 4. Insert the new messages, in batch order so seqs follow submission order.
        let mut rows = Vec::new();
        let mut attaching: Vec<((usize, usize), i64, &[i64])> = Vec::new();
        let mut new_views: HashMap<(usize, usize), MessageView> = HashMap::new();
        for (ri, request) in batch.iter().enumerate() {
            for (wi, write) in request.iter().enumerate() {
                let Write::Message {
                    room,
                    author,
                    kind,
                    body,
                    client_id,
                    thread,
                    attachments,
                } = write
                else {
                    continue;
                };
                let Some(Planned::New) = plan.get(&(ri, wi)) else {
                    continue;
                };
                let seq = next_seq.get_mut(&room.0).map(|s| {
                    *s += 1;
                    *s - 1
                });
                let seq = seq
                    .ok_or_else(|| TxError::Request(WriteError::NotFound("no such room".into())))?;
                let id = self.ids.next_id();
                if !attachments.is_empty() {
                    attaching.push(((ri, wi), id, attachments));
                }
                rows.push(NewMessage {
                    id,
                    room_id: room.0,
                    seq,
                    author_id: author.id.0,
                    kind: kind.as_str(),
                    body,
                    thread_id: thread.map(|t| t.0),
                    client_id: client_id.as_deref(),
                    created_at: now,
                });
                plan.insert((ri, wi), Planned::New);
                new_views.insert(
                    (ri, wi),
                    MessageView {
                        thread: *thread,
                        ..MessageView::committed(
                            MessageId(id),
                            *room,
                            seq,
                            *kind,
                            author.clone(),
                            body.clone(),
                            now,
                        )
                    },
                );
            }
        }
        messages::insert_many(conn, &rows)?;
        for (at, id, uploads) in attaching {
            let Some(view) = new_views.get_mut(&at) else {
                continue;
            };
            let bound =
                super::uploads::attach(conn, uploads, id, view.author.id.0, view.room.0, now)?
                    .ok_or_else(|| {
                        TxError::Request(WriteError::Invalid(
                    "every attachment must be your own upload to this room, not used by another \
                     message"
                        .into(),
                ))
                    })?;
            view.attachments = bound.iter().map(|u| u.attachment()).collect();
        }
        super::emoji::resolve(conn, new_views.values_mut())?;

        // 5. The originals that repeated client_ids refer to, from the store or from this batch.
        let mut originals: HashMap<(i64, String), MessageView> = HashMap::new();
        let repeated: Vec<_> = existing
            .values()
            .filter(|r| plan.values().any(|p| matches!(p, Planned::Duplicate((a, c)) if *a == r.author_id && Some(c) == r.client_id.as_ref())))
            .cloned()
            .collect();
        for (row, view) in repeated
            .clone()
            .into_iter()
            .zip(messages::views(conn, repeated)?)
        {
            if let Some(c) = row.client_id {
                originals.insert((row.author_id, c), view);
            }
        }
        for (ri, request) in batch.iter().enumerate() {
            for (wi, write) in request.iter().enumerate() {
                if let (
                    Write::Message {
                        client_id: Some(c), ..
                    },
                    Some(view),
                ) = (write, new_views.get(&(ri, wi)))
                {
                    originals
                        .entry((view.author.id.0, c.clone()))
                        .or_insert_with(|| view.clone());
                }
            }
        }

        // 6. Everything else, in order; collect each request's results.
        let mut results = Vec::with_capacity(batch.len());
        for (ri, request) in batch.iter().enumerate() {
            let mut applied = Vec::with_capacity(request.len());
            for (wi, write) in request.iter().enumerate() {
                applied.push(match (write, plan.get(&(ri, wi))) {
                    (Write::Message { .. }, Some(Planned::New)) => Applied::Message {
                        message: new_views.remove(&(ri, wi)).ok_or_else(|| {
                            TxError::Request(WriteError::Unavailable(
                                "lost a planned message".into(),
                            ))
                        })?,
                        duplicate: false,
                    },
                    (Write::Message { .. }, Some(Planned::Duplicate(key))) => Applied::Message {
                        message: originals.get(key).cloned().ok_or_else(|| {
                            TxError::Request(WriteError::Unavailable(
                                "original message not found".into(),
                            ))
                        })?,
                        duplicate: true,
                    },
                    (Write::Message { .. }, None) => {
                        return Err(TxError::Request(WriteError::Unavailable(
                            "unplanned message".into(),
                        )))
                    }
                    (other, _) => self.apply_other(conn, other, now)?,
                });
            }
            results.push(Ok(applied));
        }
        Ok(results)
    }
}
