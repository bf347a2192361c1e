//! What other actors tell a connection besides room traffic: push a frame (a user event), close
//! because the session ended, close because the server stops.

use super::Connection;
use actix::prelude::*;
use bytestring::ByteString;
use slog::debug;

/// The session this socket was opened with ended, or the user's permissions changed: close with
/// 4001 and the reason (the client logs in again or reconnects with a fresh token).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    pub reason: String,
}

impl Handler<SessionEnded> for Connection {
    type Result = ();
    fn handle(&mut self, msg: SessionEnded, ctx: &mut Context<Self>) {
        conn_debug!(self, "session ended"; "reason" => &msg.reason);
        self.close(ctx, crate::revocation::CLOSE_SESSION_ENDED, &msg.reason);
    }
}

/// The server is stopping: close with 1001.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownClose;

impl Handler<ShutdownClose> for Connection {
    type Result = ();
    fn handle(&mut self, _: ShutdownClose, ctx: &mut Context<Self>) {
        self.close(ctx, 1001, "server shutting down");
    }
}

/// A frame for this socket (a mention, unread counts): into the outbox like any room event.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push(pub ByteString);

impl Handler<Push> for Connection {
    type Result = ();
    fn handle(&mut self, msg: Push, _: &mut Context<Self>) {
        self.outbox.push(msg.0);
    }
}
