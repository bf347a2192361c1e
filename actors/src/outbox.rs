//! A connection's outbound queue and the task that writes it to the socket.
//!
//! Rooms push pre-serialised frames straight into a connection's [`Outbox`] (a bounded channel), so
//! fan-out costs one `try_send` per member and no actor hop. When the queue is full the client is
//! not keeping up: it is cut off with close code 1013 instead of letting memory grow.

use actix_ws::{CloseCode, CloseReason, Session};
use bytes::Bytes;
use bytestring::ByteString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// Identifies one WebSocket connection on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Debug)]
pub enum Outbound {
    Text(ByteString),
    Ping,
    Pong(Bytes),
    Close(u16, String),
}

/// The sending side, cloned into every room the connection joined.
#[derive(Clone, Debug)]
pub struct Outbox {
    pub id: ConnId,
    tx: mpsc::Sender<Outbound>,
    cut: Arc<Notify>,
}

/// The receiving side, owned by the writer task.
pub struct OutboxReceiver {
    rx: mpsc::Receiver<Outbound>,
    cut: Arc<Notify>,
}

impl Outbox {
    pub fn new(id: ConnId, capacity: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let cut = Arc::new(Notify::new());
        (
            Outbox {
                id,
                tx,
                cut: cut.clone(),
            },
            OutboxReceiver { rx, cut },
        )
    }

    /// Queues a frame. False if the connection is gone or was just cut off for being too slow; the
    /// caller then forgets the connection.
    pub fn push(&self, frame: ByteString) -> bool {
        self.send(Outbound::Text(frame))
    }

    pub fn ping(&self) -> bool {
        self.send(Outbound::Ping)
    }

    pub fn pong(&self, payload: Bytes) -> bool {
        self.send(Outbound::Pong(payload))
    }

    /// Closes the socket after the frames already queued.
    pub fn close(&self, code: u16, reason: &str) {
        self.send(Outbound::Close(code, reason.to_owned()));
    }

    fn send(&self, item: Outbound) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.cut.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterExit {
    /// We closed it (or every sender went away).
    Closed,
    /// The client could not keep up: closed with 1013.
    TooSlow,
    /// The socket was already gone.
    Gone,
}

/// Close code for a client that cannot keep up ("try again later").
pub const CLOSE_TOO_SLOW: u16 = 1013;

/// Writes queued frames to the socket until closed. Runs as its own task, so a close queued by a
/// stopping connection actor still reaches the client.
pub async fn run_writer(mut session: Session, mut out: OutboxReceiver) -> WriterExit {
    loop {
        let item = tokio::select! {
            biased;
            _ = out.cut.notified() => return cut_off(session).await,
            item = out.rx.recv() => item,
        };
        let result = match item {
            None => {
                let _already_closed_is_fine = session.close(None).await;
                return WriterExit::Closed;
            }
            Some(Outbound::Text(text)) => tokio::select! {
                biased;
                _ = out.cut.notified() => return cut_off(session).await,
                r = session.text(text) => r,
            },
            Some(Outbound::Ping) => session.ping(b"").await,
            Some(Outbound::Pong(payload)) => session.pong(&payload).await,
            Some(Outbound::Close(code, reason)) => {
                let reason = CloseReason {
                    code: CloseCode::from(code),
                    description: Some(reason),
                };
                let _already_closed_is_fine = session.close(Some(reason)).await;
                return WriterExit::Closed;
            }
        };
        if result.is_err() {
            return WriterExit::Gone;
        }
    }
}

async fn cut_off(session: Session) -> WriterExit {
    let reason = CloseReason {
        code: CloseCode::from(CLOSE_TOO_SLOW),
        description: Some("too slow: outbound queue full".into()),
    };
    let _already_closed_is_fine = session.close(Some(reason)).await;
    WriterExit::TooSlow
}
