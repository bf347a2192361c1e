//! The persistence actors: durable writes with group commit.
//!
//! Writes are sharded by room (so one room's writes stay in order) over `shards` pipelines. Each
//! pipeline is a [`Batcher`] (async) in front of a [`Writer`] (one `SyncArbiter` thread owning a
//! store). The batcher keeps at most one batch in flight: while the writer commits, new requests
//! queue up, and the next batch takes all of them (up to `max_batch`). Under load that is a
//! transaction per few hundred rows; when idle a single request commits at once, with no timer in
//! the way. A request's future resolves only after its batch committed: acks follow durability.

use crate::ids::RoomId;
use crate::store::{ChatStore, Request, RequestResult, StoreError, StoreFactory, WriteError};
use actix::prelude::*;
use slog::{error, Logger};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tokio::sync::oneshot;

/// A writer thread: owns one store and applies whole batches.
pub struct Writer {
    factory: StoreFactory,
    store: Box<dyn ChatStore>,
    log: Logger,
}

impl Actor for Writer {
    type Context = SyncContext<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<Vec<RequestResult>, StoreError>")]
pub struct ApplyBatch(pub Vec<Request>);

impl Handler<ApplyBatch> for Writer {
    type Result = Result<Vec<RequestResult>, StoreError>;

    fn handle(&mut self, msg: ApplyBatch, _ctx: &mut SyncContext<Self>) -> Self::Result {
        match catch_unwind(AssertUnwindSafe(|| self.store.apply(&msg.0))) {
            Ok(result) => result,
            Err(_) => {
                // The store may be in any state after a panic: start over with a fresh one. The
                // transaction was not committed, so nothing of the batch is durable.
                error!(self.log, "persistence writer panicked; store recreated");
                self.store = (self.factory)();
                Err(StoreError("writer panicked".into()))
            }
        }
    }
}

struct Pending {
    request: Request,
    reply: oneshot::Sender<RequestResult>,
}

/// Queues requests for one writer and commits them in batches.
pub struct Batcher {
    writer: Addr<Writer>,
    /// Writes waiting here, for `GET /metrics`.
    depth: std::sync::Arc<crate::metrics::family::Gauge>,
    queue: VecDeque<Pending>,
    in_flight: bool,
    max_batch: usize,
    idle_waiters: Vec<oneshot::Sender<()>>,
}

impl Actor for Batcher {
    type Context = Context<Self>;
}

/// Commit these writes together; resolves after the commit.
#[derive(Message)]
#[rtype(result = "RequestResult")]
pub struct Submit(pub Request);

impl Handler<Submit> for Batcher {
    type Result = ResponseFuture<RequestResult>;

    fn handle(&mut self, msg: Submit, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.queue.push_back(Pending {
            request: msg.0,
            reply,
        });
        self.depth.set(self.queue.len() as i64);
        if !self.in_flight {
            self.flush(ctx);
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(WriteError::Unavailable("persistence stopped".into())))
        })
    }
}

/// Resolves once everything submitted so far is committed (for shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for Batcher {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.queue.is_empty() && !self.in_flight {
            let _receiver_is_right_below = tx.send(());
        } else {
            self.idle_waiters.push(tx);
        }
        Box::pin(async move {
            let _closed_means_stopped = rx.await;
        })
    }
}

impl Batcher {
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let n = self.queue.len().min(self.max_batch);
        if n == 0 {
            for waiter in self.idle_waiters.drain(..) {
                let _waiter_may_be_gone = waiter.send(());
            }
            return;
        }
        let mut batch: Vec<Pending> = self.queue.drain(..n).collect();
        self.depth.set(self.queue.len() as i64);
        let metrics = crate::metrics::metrics();
        metrics.persistence_batch.observe(n as f64);
        let handed_over = std::time::Instant::now();
        let requests: Vec<Request> = batch
            .iter_mut()
            .map(|p| std::mem::take(&mut p.request))
            .collect();
        self.in_flight = true;
        let mut span = crate::telemetry::span("persistence.batch", || {
            vec![opentelemetry::KeyValue::new("veza.batch_size", n as i64)]
        });
        self.writer
            .send(ApplyBatch(requests))
            .into_actor(self)
            .map(move |result, act, ctx| {
                metrics
                    .persistence_commit
                    .observe(handed_over.elapsed().as_secs_f64());
                let results: Vec<RequestResult> = match result {
                    Ok(Ok(results)) if results.len() == batch.len() => results,
                    Ok(Ok(_)) => vec![
                        Err(WriteError::Unavailable(
                            "store returned a short batch".into()
                        ));
                        batch.len()
                    ],
                    Ok(Err(e)) => vec![Err(WriteError::Unavailable(e.0)); batch.len()],
                    Err(e) => vec![
                        Err(WriteError::Unavailable(format!("writer unreachable: {e}")));
                        batch.len()
                    ],
                };
                if let (Some(span), Some(Err(e))) = (&mut span, results.first()) {
                    span.fail(e.to_string());
                }
                drop(span.take());
                for (pending, result) in batch.drain(..).zip(results) {
                    // The requester may have gone (connection closed): the write stands anyway.
                    let _requester_may_be_gone = pending.reply.send(result);
                }
                act.in_flight = false;
                act.flush(ctx);
            })
            .spawn(ctx);
    }
}

/// The handle the rooms use: routes each request to its room's shard.
#[derive(Clone)]
pub struct Persistence {
    shards: Vec<Addr<Batcher>>,
}

impl Persistence {
    /// Starts `shards` writer threads (each with its own store from `factory`) and their batchers
    /// on the current arbiter.
    pub fn start(factory: StoreFactory, shards: usize, max_batch: usize, log: Logger) -> Self {
        let shards = (0..shards.max(1))
            .map(|shard| {
                let f = factory.clone();
                let wlog = log.clone();
                let writer = SyncArbiter::start(1, move || Writer {
                    factory: f.clone(),
                    store: f(),
                    log: wlog.clone(),
                });
                Batcher {
                    writer,
                    depth: crate::metrics::metrics()
                        .persistence_queue
                        .with(&[&shard.to_string()]),
                    queue: VecDeque::new(),
                    in_flight: false,
                    max_batch: max_batch.max(1),
                    idle_waiters: Vec::new(),
                }
                .start()
            })
            .collect();
        Self { shards }
    }

    fn shard(&self, room: Option<RoomId>) -> &Addr<Batcher> {
        let i = room.map(|r| r.0.unsigned_abs() as usize).unwrap_or(0) % self.shards.len();
        &self.shards[i]
    }

    /// Commits `request` (on `room`'s shard, keeping that room's writes in order).
    pub fn submit(
        &self,
        room: Option<RoomId>,
        request: Request,
    ) -> impl std::future::Future<Output = RequestResult> + 'static {
        let send = self.shard(room).send(Submit(request));
        async move {
            send.await.unwrap_or_else(|e| {
                Err(WriteError::Unavailable(format!(
                    "persistence unreachable: {e}"
                )))
            })
        }
    }

    /// Waits until every shard has committed what it was given.
    pub async fn drain(&self) {
        for shard in &self.shards {
            let _stopped_shard_has_nothing_left = shard.send(Drain).await;
        }
    }
}
