//! A connection's outbound queue, and the HTTP response body that writes it to the socket.
//!
//! Rooms push pre-serialised frames straight into a connection's [`Outbox`] (a bounded queue), so
//! fan-out costs one push per member and no actor hop. When the queue is full the client is not
//! keeping up: it is cut off with close code 1013 instead of letting memory grow.
//!
//! The queue is drained by [`OutboxBody`], the body of the `101 Switching Protocols` response:
//! actix-web's HTTP/1 dispatcher polls it whenever it has room to write, and it encodes the queued
//! frames as WebSocket frames. There is no writer task and no second channel in between.
//!
//! Memory: an idle connection's queue holds no allocation at all (the deque is allocated on the
//! first push and released whenever the body drains it), so the bound (`ws_outbound_queue`, 1024
//! by default) costs nothing until frames are actually waiting.

use actix_http::body::{BodySize, MessageBody};
use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

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

/// At most this many bytes go to the dispatcher per poll, and when more is waiting the body lets
/// it flush first: actix's HTTP/1 dispatcher otherwise keeps polling until 32 KiB are buffered,
/// grows its 8 KiB write buffer to hold them and keeps that allocation (up to 128 KiB) for the
/// life of the socket. A frame larger than this is handed over in pieces.
const CHUNK_BYTES: usize = 4 * 1024;

struct Shared {
    capacity: usize,
    /// Live [`Outbox`] handles; when the last goes the body closes the socket.
    senders: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Outbound>,
    /// The queue overflowed: the client is cut off with 1013.
    cut: bool,
    /// A close frame is queued: nothing after it would be sent.
    closing: bool,
    /// The body ended or was dropped (the socket is closed or closing); pushes fail.
    ended: Option<WriterExit>,
    /// The dispatcher task waiting for frames.
    body: Option<Waker>,
    /// The connection actor waiting to hear that the writer ended.
    watcher: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The sending side, cloned into every room the connection joined.
pub struct Outbox {
    pub id: ConnId,
    shared: Arc<Shared>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").field("id", &self.id).finish()
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Outbox {
            id: self.id,
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last sender: the body sends a close frame and ends.
            let waker = self.shared.lock().body.take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Outbox {
    /// A queue of at most `capacity` frames, and the response body that drains it.
    pub fn new(id: ConnId, capacity: usize) -> (Outbox, OutboxBody) {
        let shared = Arc::new(Shared {
            capacity: capacity.max(1),
            senders: AtomicUsize::new(1),
            state: Mutex::new(State::default()),
        });
        (
            Outbox {
                id,
                shared: shared.clone(),
            },
            OutboxBody {
                shared,
                finished: false,
                pending: Bytes::new(),
                flush_first: false,
            },
        )
    }

    /// Queues a frame. False if the connection is gone or was just cut off for being too slow; the
    /// caller then forgets the connection.
    pub fn push(&self, frame: ByteString) -> bool {
        let queued = self.send(Outbound::Text(frame));
        let m = crate::metrics::metrics();
        if queued {
            m.ws_deliveries.inc();
        } else {
            m.ws_dropped.inc();
        }
        queued
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
        let mut st = self.shared.lock();
        if st.cut || st.closing || st.ended.is_some() {
            return false;
        }
        if st.queue.len() >= self.shared.capacity {
            // Cut off: drop what is queued, tell the body (it sends 1013) and the connection.
            st.cut = true;
            let m = crate::metrics::metrics();
            m.ws_slow_closes.inc();
            m.ws_dropped.add(st.queue.len() as u64);
            st.queue = VecDeque::new();
            let (body, watcher) = (st.body.take(), st.watcher.take());
            drop(st);
            body.into_iter().chain(watcher).for_each(Waker::wake);
            return false;
        }
        st.closing = matches!(item, Outbound::Close(..));
        st.queue.push_back(item);
        let body = st.body.take();
        drop(st);
        if let Some(w) = body {
            w.wake();
        }
        true
    }

    /// True once the socket is closed or the client was cut off.
    pub fn is_closed(&self) -> bool {
        let st = self.shared.lock();
        st.cut || st.ended.is_some()
    }

    /// A future that resolves when the writer ends (socket gone, or cut off for being too slow).
    /// It is not a sender: it does not keep the socket open.
    pub fn watch(&self) -> WriterWatch {
        WriterWatch {
            shared: self.shared.clone(),
        }
    }
}

/// Resolves with how the writer ended; see [`Outbox::watch`].
pub struct WriterWatch {
    shared: Arc<Shared>,
}

impl Future for WriterWatch {
    type Output = WriterExit;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WriterExit> {
        let mut st = self.shared.lock();
        if st.cut {
            return Poll::Ready(WriterExit::TooSlow);
        }
        if let Some(exit) = st.ended {
            return Poll::Ready(exit);
        }
        register(&mut st.watcher, cx);
        Poll::Pending
    }
}

/// The body of the upgrade response: writes the queued frames to the socket, and a close frame at
/// the end (ours, 1013 when cut off, or a bare one when every sender went away).
pub struct OutboxBody {
    shared: Arc<Shared>,
    /// The close frame was encoded: nothing more is taken from the queue.
    finished: bool,
    /// Encoded bytes not handed over yet (the rest of a frame larger than a chunk).
    pending: Bytes,
    /// More is waiting: yield once so the dispatcher writes what it has before taking more.
    flush_first: bool,
}

impl OutboxBody {
    /// The next piece of `pending`, at most a chunk; flush before the rest.
    fn piece(&mut self) -> Bytes {
        if self.pending.len() <= CHUNK_BYTES {
            return std::mem::take(&mut self.pending);
        }
        let rest = self.pending.split_off(CHUNK_BYTES);
        self.flush_first = true;
        std::mem::replace(&mut self.pending, rest)
    }

    fn finish(&mut self, exit: WriterExit) {
        self.finished = true;
        let mut st = self.shared.lock();
        st.ended.get_or_insert(exit);
        st.queue = VecDeque::new();
        let watcher = st.watcher.take();
        drop(st);
        if let Some(w) = watcher {
            w.wake();
        }
    }
}

/// Encodes queued frames into `buf` up to about a chunk: the exit if a close was among them, and
/// whether more is left in the queue.
fn encode_batch(st: &mut State, buf: &mut BytesMut) -> (Option<WriterExit>, bool) {
    let mut exit = None;
    while buf.len() < CHUNK_BYTES {
        let Some(item) = st.queue.pop_front() else {
            break;
        };
        match item {
            Outbound::Text(text) => Parser::write_message(buf, text, OpCode::Text, true, false),
            Outbound::Ping => Parser::write_message(buf, b"", OpCode::Ping, true, false),
            Outbound::Pong(payload) => {
                Parser::write_message(buf, payload, OpCode::Pong, true, false)
            }
            Outbound::Close(code, reason) => {
                close_frame(buf, Some((code, reason)));
                exit = Some(WriterExit::Closed);
                break;
            }
        }
    }
    if st.queue.is_empty() {
        // Give the allocation back: an idle connection keeps no queue memory.
        st.queue = VecDeque::new();
        return (exit, false);
    }
    (exit, exit.is_none())
}

/// The most a close frame's reason may hold (125 bytes of payload, 2 of them the code).
const MAX_CLOSE_REASON: usize = 123;

/// `reason` cut to fit a close frame, at a character boundary.
fn fit_close_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

fn close_frame(dst: &mut BytesMut, code: Option<(u16, String)>) {
    let code = code.map(|(code, reason)| (code, fit_close_reason(reason)));
    let reason = code.map(|(code, description)| CloseReason {
        code: CloseCode::from(code),
        description: Some(description),
    });
    Parser::write_close(dst, reason, false);
}

impl MessageBody for OutboxBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self.get_mut();
        if this.flush_first {
            this.flush_first = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if !this.pending.is_empty() {
            let piece = this.piece();
            // The queue may have filled meanwhile: let this piece be written first.
            this.flush_first = true;
            return Poll::Ready(Some(Ok(piece)));
        }
        if this.finished {
            return Poll::Ready(None);
        }
        let mut buf = BytesMut::new();
        let (exit, more) = {
            let mut st = this.shared.lock();
            if st.cut {
                drop(st);
                let reason = "too slow: outbound queue full".into();
                close_frame(&mut buf, Some((CLOSE_TOO_SLOW, reason)));
                (Some(WriterExit::TooSlow), false)
            } else if st.queue.is_empty() {
                if this.shared.senders.load(Ordering::Acquire) > 0 {
                    register(&mut st.body, cx);
                    return Poll::Pending;
                }
                drop(st);
                close_frame(&mut buf, None);
                (Some(WriterExit::Closed), false)
            } else {
                encode_batch(&mut st, &mut buf)
            }
        };
        if let Some(exit) = exit {
            this.finish(exit);
        }
        this.pending = buf.freeze();
        let piece = this.piece();
        this.flush_first |= more;
        Poll::Ready(Some(Ok(piece)))
    }
}

impl Drop for OutboxBody {
    fn drop(&mut self) {
        // The dispatcher drops the body when the response ends or the socket goes away.
        if !self.finished {
            self.finish(WriterExit::Gone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;

    fn poll(body: &mut OutboxBody) -> Poll<Option<Bytes>> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        Pin::new(body)
            .poll_next(&mut cx)
            .map(|o| o.map(|r| r.unwrap()))
    }

    fn watch(outbox: &Outbox) -> Poll<WriterExit> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut w = outbox.watch();
        Pin::new(&mut w).poll(&mut cx)
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let fitted = fit_close_reason("é".repeat(100));
        assert!(fitted.len() <= MAX_CLOSE_REASON, "{}", fitted.len());
        assert!(fitted.chars().all(|c| c == 'é'));
        assert_eq!(fit_close_reason("bye".into()), "bye");
    }

    #[test]
    fn frames_in_order_then_our_close() {
        let (outbox, mut body) = Outbox::new(ConnId(1), 8);
        assert!(poll(&mut body).is_pending());
        assert!(outbox.push("a".into()));
        assert!(outbox.ping());
        let Poll::Ready(Some(bytes)) = poll(&mut body) else {
            panic!("frames expected")
        };
        assert_eq!(&bytes[..], &[0x81, 1, b'a', 0x89, 0][..]);
        assert!(poll(&mut body).is_pending());
        outbox.close(4001, "bye");
        assert!(
            !outbox.push("late".into()),
            "nothing after the close is sent"
        );
        let Poll::Ready(Some(bytes)) = poll(&mut body) else {
            panic!("close expected")
        };
        assert_eq!(&bytes[..], &[0x88, 5, 0x0f, 0xa1, b'b', b'y', b'e'][..]);
        assert_eq!(poll(&mut body), Poll::Ready(None));
        assert_eq!(watch(&outbox), Poll::Ready(WriterExit::Closed));
    }

    #[test]
    fn a_full_queue_cuts_off_with_1013() {
        let (outbox, mut body) = Outbox::new(ConnId(1), 2);
        assert!(outbox.push("a".into()));
        assert!(outbox.push("b".into()));
        assert_eq!(watch(&outbox), Poll::Pending);
        assert!(!outbox.push("c".into()), "the third frame overflows");
        assert!(outbox.is_closed());
        assert_eq!(watch(&outbox), Poll::Ready(WriterExit::TooSlow));
        let Poll::Ready(Some(bytes)) = poll(&mut body) else {
            panic!("close expected")
        };
        let reason = b"too slow: outbound queue full";
        assert_eq!(bytes.len(), 4 + reason.len(), "queued frames dropped");
        assert_eq!(&bytes[..4], &[0x88, 2 + reason.len() as u8, 0x03, 0xf5][..]);
        assert_eq!(&bytes[4..], &reason[..]);
        assert_eq!(poll(&mut body), Poll::Ready(None));
    }

    #[test]
    fn the_last_sender_gone_closes_and_a_dropped_body_ends_the_outbox() {
        let (outbox, mut body) = Outbox::new(ConnId(1), 4);
        let room = outbox.clone();
        drop(outbox);
        assert!(poll(&mut body).is_pending(), "a room still holds it");
        assert!(room.push("x".into()));
        drop(room);
        assert!(matches!(poll(&mut body), Poll::Ready(Some(_))));
        let Poll::Ready(Some(bytes)) = poll(&mut body) else {
            panic!("close expected")
        };
        assert_eq!(&bytes[..], &[0x88, 0][..]);

        let (outbox, body) = Outbox::new(ConnId(2), 4);
        drop(body);
        assert!(!outbox.push("x".into()), "the socket is gone");
        assert_eq!(watch(&outbox), Poll::Ready(WriterExit::Gone));
    }

    #[test]
    fn large_queues_go_out_in_pieces_and_idle_keeps_no_queue() {
        let (outbox, mut body) = Outbox::new(ConnId(1), 64);
        let frame: ByteString = "y".repeat(4000).into();
        for _ in 0..10 {
            assert!(outbox.push(frame.clone()));
        }
        let big: ByteString = "w".repeat(10_000).into();
        assert!(outbox.push(big));
        let (mut pieces, mut total, mut flushes) = (0, 0, 0);
        loop {
            match poll(&mut body) {
                Poll::Ready(Some(bytes)) => {
                    assert!(bytes.len() <= CHUNK_BYTES, "{} bytes at once", bytes.len());
                    pieces += 1;
                    total += bytes.len();
                }
                Poll::Pending => {
                    // Either a yield to let the dispatcher flush, or everything went out.
                    if outbox.shared.lock().queue.is_empty() && body.pending.is_empty() {
                        break;
                    }
                    flushes += 1;
                }
                Poll::Ready(None) => panic!("the body ended"),
            }
        }
        assert_eq!(total, 10 * (4000 + 4) + 10_000 + 4);
        assert!(pieces >= 13, "{pieces} pieces");
        assert!(
            flushes >= pieces - 1,
            "a flush between pieces: {pieces}, {flushes}"
        );
        assert_eq!(outbox.shared.lock().queue.capacity(), 0);
    }
}
