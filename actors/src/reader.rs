//! The reader pool: blocking store reads (room loads, history, lookups) on `SyncArbiter` threads,
//! so they never block an async arbiter and never queue behind the writers.

use crate::store::{ChatStore, StoreError, StoreFactory};
use actix::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub struct Reader {
    factory: StoreFactory,
    store: Box<dyn ChatStore>,
}

impl Actor for Reader {
    type Context = SyncContext<Self>;
}

type Query<R> = Box<dyn FnOnce(&mut dyn ChatStore) -> Result<R, StoreError> + Send>;

/// Runs a closure against a reader's store; `asked` is when it was sent, for the wait metric.
pub struct Read<R>(Query<R>, std::time::Instant);

impl<R: Send + 'static> Message for Read<R> {
    type Result = Result<R, StoreError>;
}

impl<R: Send + 'static> Handler<Read<R>> for Reader {
    type Result = Result<R, StoreError>;

    fn handle(&mut self, msg: Read<R>, _ctx: &mut SyncContext<Self>) -> Self::Result {
        let Read(query, asked) = msg;
        crate::metrics::metrics()
            .reader_wait
            .observe(asked.elapsed().as_secs_f64());
        match catch_unwind(AssertUnwindSafe(|| query(self.store.as_mut()))) {
            Ok(result) => result,
            Err(_) => {
                self.store = (self.factory)();
                Err(StoreError("reader panicked".into()))
            }
        }
    }
}

#[derive(Clone)]
pub struct Readers {
    addr: Addr<Reader>,
}

impl Readers {
    pub fn start(factory: StoreFactory, threads: usize) -> Self {
        let addr = SyncArbiter::start(threads.max(1), move || Reader {
            factory: factory.clone(),
            store: factory(),
        });
        Self { addr }
    }

    /// Runs `query` on a reader thread.
    pub fn query<R, F>(
        &self,
        query: F,
    ) -> impl std::future::Future<Output = Result<R, StoreError>> + 'static
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ChatStore) -> Result<R, StoreError> + Send + 'static,
    {
        let send = self
            .addr
            .send(Read(Box::new(query), std::time::Instant::now()));
        async move {
            send.await
                .unwrap_or_else(|e| Err(StoreError(format!("reader unreachable: {e}"))))
        }
    }
}
