//! The diesel implementation of the actors' storage port ([`ChatStore`]).
//!
//! A batch is applied in one transaction: first the checks (duplicate `client_id`s, threads), then
//! sequence numbers reserved per room in one UPDATE each, then all new messages in multi-row
//! INSERTs, then the other writes. If any request is invalid the transaction is rolled back and
//! each request is applied in a transaction of its own, so one bad request cannot sink the others.

use super::message_commit::{self, Outcome};
use super::messages::{self, NewMessage};
use super::webhook_outbox::{self, OutboxWaker};
use super::{bot_commands, conversation_commit, rooms, users, DbConnection, DbError, DbPool};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use veza_actors::ids::{now_ms, IdGenerator};
use veza_actors::model::{MessageView, RoomSnapshot, UserRef};
use veza_actors::store::{
    Applied, ChatStore, MessageExtras, Request, RequestResult, SessionStanding, StoreError, Unread,
    Write, WriteError,
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
        let Some(row) = rooms::find(conn, room).map_err(store_error)? else {
            return Ok(None);
        };
        let members = rooms::members(conn, room).map_err(store_error)?;
        let rows =
            messages::before(conn, room, row.last_seq + 1, recent as i64).map_err(store_error)?;
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
        let rows = messages::after(&mut conn, room, after, limit as i64).map_err(store_error)?;
        messages::views(&mut conn, rows).map_err(store_error)
    }

    fn messages_before(
        &mut self,
        room: RoomId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut conn = self.conn()?;
        let rows = messages::before(&mut conn, room, before, limit as i64).map_err(store_error)?;
        messages::views(&mut conn, rows).map_err(store_error)
    }

    fn message_owner(
        &mut self,
        message: MessageId,
    ) -> Result<Option<(RoomId, UserId)>, StoreError> {
        let mut conn = self.conn()?;
        Ok(messages::find(&mut conn, message)
            .map_err(store_error)?
            .map(|m| (m.room_id, m.author_id)))
    }

    fn session_standing(&mut self, sessions: &[i64]) -> Result<Vec<SessionStanding>, StoreError> {
        let mut conn = self.conn()?;
        super::sessions::standing(&mut conn, sessions).map_err(store_error)
    }

    fn unread(&mut self, room: RoomId, users: &[UserId]) -> Result<Vec<Unread>, StoreError> {
        let mut conn = self.conn()?;
        super::unread::in_room(&mut conn, room, users).map_err(store_error)
    }

    fn find_user(&mut self, username: &str) -> Result<Option<UserRef>, StoreError> {
        let mut conn = self.conn()?;
        Ok(users::find_by_username(&mut conn, username)
            .map_err(store_error)?
            .map(|u| UserRef {
                id: u.id,
                username: u.username,
            }))
    }
}

/// What happens to each message write of the batch: a new row (its id), or a repeat of an
/// earlier (author, client_id).
enum Planned {
    New,
    Duplicate((UserId, String)),
}

/// Each message write's plan, by (request, write) index, and how many new rows each room gets.
struct Plan {
    writes: HashMap<(usize, usize), Planned>,
    per_room: HashMap<RoomId, i64>,
    /// Existing rows for repeated `client_id`s.
    existing: HashMap<(UserId, String), messages::MessageRow>,
}

/// A new message's row as inserted, and what its commit does besides.
struct Inserted {
    view: MessageView,
    notified: Vec<UserId>,
    root: Option<veza_actors::store::ThreadRoot>,
}

/// The message writes of a batch, with their (request, write) indexes.
fn message_writes(batch: &[Request]) -> impl Iterator<Item = ((usize, usize), &Write)> {
    batch.iter().enumerate().flat_map(|(ri, request)| {
        request
            .iter()
            .enumerate()
            .filter(|(_, w)| matches!(w, Write::Message { .. }))
            .map(move |(wi, w)| ((ri, wi), w))
    })
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
        let plan = plan_messages(conn, batch)?;
        let mut inserted = self.insert_messages(conn, batch, &plan, now)?;
        let originals = originals(conn, batch, &plan, &inserted)?;

        // Everything else, in order; collect each request's results.
        let mut results = Vec::with_capacity(batch.len());
        for (ri, request) in batch.iter().enumerate() {
            let mut applied = Vec::with_capacity(request.len());
            for (wi, write) in request.iter().enumerate() {
                applied.push(match (write, plan.writes.get(&(ri, wi))) {
                    (Write::Message { .. }, Some(Planned::New)) => {
                        let new = inserted.remove(&(ri, wi)).ok_or_else(|| {
                            TxError::Request(WriteError::Unavailable(
                                "lost a planned message".into(),
                            ))
                        })?;
                        Applied::Message {
                            message: new.view,
                            duplicate: false,
                            notified: new.notified,
                            root: new.root,
                        }
                    }
                    (Write::Message { .. }, Some(Planned::Duplicate(key))) => Applied::Message {
                        message: originals.get(key).cloned().ok_or_else(|| {
                            TxError::Request(WriteError::Unavailable(
                                "original message not found".into(),
                            ))
                        })?,
                        duplicate: true,
                        notified: Vec::new(),
                        root: None,
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

    /// Reserves seqs for every room at once (in room order, so concurrent writers lock rows in one
    /// order), inserts the new messages in batch order (seqs follow submission order), then does
    /// what each one's commit does besides (thread roots, mention notifications).
    fn insert_messages(
        &self,
        conn: &mut DbConnection,
        batch: &[Request],
        plan: &Plan,
        now: i64,
    ) -> Result<HashMap<(usize, usize), Inserted>, TxError> {
        let mut wants: Vec<(RoomId, i64)> = plan.per_room.iter().map(|(r, n)| (*r, *n)).collect();
        wants.sort_unstable();
        let mut next_seq = rooms::reserve_seqs_many(conn, &wants)?;
        if next_seq.len() < wants.len() {
            return Err(TxError::Request(WriteError::NotFound(
                "no such room".into(),
            )));
        }
        let mut rows = Vec::new();
        let mut views: Vec<((usize, usize), MessageView)> = Vec::new();
        let mut extras_of: Vec<(Option<MessageId>, &MessageExtras)> = Vec::new();
        for (at, write) in message_writes(batch) {
            let Write::Message {
                room,
                author,
                kind,
                body,
                client_id,
                thread,
                extras,
            } = write
            else {
                continue;
            };
            let Some(Planned::New) = plan.writes.get(&at) else {
                continue;
            };
            let seq = next_seq.get_mut(room).map(|s| {
                *s += 1;
                *s - 1
            });
            let seq =
                seq.ok_or_else(|| TxError::Request(WriteError::NotFound("no such room".into())))?;
            let id = MessageId(self.ids.next_id());
            let also_in_room = thread.is_some() && extras.also_in_room;
            rows.push(NewMessage {
                id,
                room_id: *room,
                seq,
                author_id: author.id,
                kind: kind.as_str(),
                body,
                thread_id: *thread,
                client_id: client_id.as_deref(),
                created_at: now,
                also_in_room,
            });
            let view = MessageView {
                thread: *thread,
                also_in_room,
                ..MessageView::committed(id, *room, seq, *kind, author.clone(), body.clone(), now)
            };
            views.push((at, view));
            extras_of.push((*thread, extras));
        }
        messages::insert_many(conn, &rows)?;
        super::emoji::resolve(conn, views.iter_mut().map(|(_, v)| v))?;
        let mut inserted = HashMap::with_capacity(views.len());
        for ((at, mut view), (thread, extras)) in views.into_iter().zip(extras_of) {
            if !extras.attachments.is_empty() {
                let bound = super::uploads::attach(
                    conn,
                    &extras.attachments,
                    view.id,
                    view.author.id,
                    view.room,
                    now,
                )?
                .ok_or_else(|| {
                    TxError::Request(WriteError::Invalid(
                        "every attachment must be your own upload to this room, not used by \
                         another message"
                            .into(),
                    ))
                })?;
                view.attachments = bound.iter().map(|u| u.attachment()).collect();
            }
            let root = match thread {
                Some(t) => Some(conversation_commit::bump_root(conn, t, now)?),
                None => None,
            };
            let notified = conversation_commit::notify(conn, &view, extras, now)?;
            inserted.insert(
                at,
                Inserted {
                    view,
                    notified,
                    root,
                },
            );
        }
        Ok(inserted)
    }
}

/// The checks before anything is written (repeated `client_id`s in the store or earlier in this
/// batch, threads, blocks in direct conversations) and each message write's plan.
fn plan_messages(conn: &mut DbConnection, batch: &[Request]) -> Result<Plan, TxError> {
    let pairs: Vec<(UserId, &str)> = message_writes(batch)
        .filter_map(|(_, w)| match w {
            Write::Message {
                author,
                client_id: Some(c),
                ..
            } => Some((author.id, c.as_str())),
            _ => None,
        })
        .collect();
    let existing = messages::by_client_ids(conn, &pairs)?;
    let threads: Vec<MessageId> = message_writes(batch)
        .filter_map(|(_, w)| match w {
            Write::Message {
                thread: Some(t), ..
            } => Some(*t),
            _ => None,
        })
        .collect();
    let roots = messages::rooms_of(conn, &threads)?;
    let mut seen: HashSet<(UserId, String)> = HashSet::new();
    let mut plan = Plan {
        writes: HashMap::new(),
        per_room: HashMap::new(),
        existing,
    };
    for (at, write) in message_writes(batch) {
        let Write::Message {
            room,
            author,
            client_id,
            thread,
            extras,
            ..
        } = write
        else {
            continue;
        };
        if let Some(c) = client_id {
            let key = (author.id, c.clone());
            if plan.existing.contains_key(&key) || seen.contains(&key) {
                plan.writes.insert(at, Planned::Duplicate(key));
                continue;
            }
            seen.insert(key);
        }
        if let Some(t) = thread {
            conversation_commit::check_thread(&roots, *room, *t).map_err(TxError::Request)?;
        }
        if extras.direct && conversation_commit::blocked_in_direct(conn, *room, author.id)? {
            return Err(TxError::Request(WriteError::Forbidden(
                "you cannot message this user".into(),
            )));
        }
        *plan.per_room.entry(*room).or_default() += 1;
        plan.writes.insert(at, Planned::New);
    }
    Ok(plan)
}

/// The originals that repeated `client_id`s refer to, from the store or from this batch.
fn originals(
    conn: &mut DbConnection,
    batch: &[Request],
    plan: &Plan,
    inserted: &HashMap<(usize, usize), Inserted>,
) -> Result<HashMap<(UserId, String), MessageView>, TxError> {
    let mut originals: HashMap<(UserId, String), MessageView> = HashMap::new();
    let repeated: Vec<messages::MessageRow> = plan
        .existing
        .values()
        .filter(|r| {
            plan.writes.values().any(|p| {
                matches!(p, Planned::Duplicate((a, c)) if *a == r.author_id && Some(c) == r.client_id.as_ref())
            })
        })
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
    for (at, write) in message_writes(batch) {
        if let (
            Write::Message {
                client_id: Some(c), ..
            },
            Some(new),
        ) = (write, inserted.get(&at))
        {
            originals
                .entry((new.view.author.id, c.clone()))
                .or_insert_with(|| new.view.clone());
        }
    }
    Ok(originals)
}
