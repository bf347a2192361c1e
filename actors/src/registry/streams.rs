//! Live broadcasts on this node, by mount, and the notices they send to their linked room.

use super::Registry;
use crate::ids::RoomId;
use crate::room::fanout::{Envelope, RoomEvent};
use crate::stream::{BroadcastEnded, NotifyRoom, StreamSession};
use crate::StreamId;
use actix::prelude::*;

/// A source wants to go live on `mount`.
#[derive(Message)]
#[rtype(result = "Result<crate::stream::Started, MountInUse>")]
pub struct StartBroadcast {
    pub stream_id: StreamId,
    /// The room that hears `stream_state` and `now_playing` from this stream.
    pub room: Option<RoomId>,
    pub mount: String,
    pub title: String,
    /// The source container (`mp3`, `aac`, `ogg`, `wav`, `flac`).
    pub extension: &'static str,
    pub effects: crate::stream::effects::EffectsSpec,
}

/// Another source is already live on that mount.
#[derive(Debug, Clone, Copy)]
pub struct MountInUse;

impl Handler<StartBroadcast> for Registry {
    type Result = Result<crate::stream::Started, MountInUse>;
    fn handle(&mut self, msg: StartBroadcast, ctx: &mut Context<Self>) -> Self::Result {
        if self.streams.get(&msg.mount).is_some_and(|a| a.connected()) {
            return Err(MountInUse);
        }
        let started = StreamSession::start(
            crate::stream::SessionParams {
                stream_id: msg.stream_id,
                room: msg.room,
                mount: msg.mount.clone(),
                title: msg.title,
                extension: msg.extension,
                effects: msg.effects,
            },
            self.deps.streams.clone(),
            ctx.address().recipient(),
            ctx.address().recipient(),
            self.deps.log.clone(),
        );
        self.streams.insert(msg.mount, started.session.clone());
        Ok(started)
    }
}

/// A programme (the AutoDJ) goes on air on `mount`: a session fed with PCM by the caller.
#[derive(Message)]
#[rtype(result = "Result<(Addr<StreamSession>, crate::stream::PcmFeed), MountInUse>")]
pub struct StartFedBroadcast(pub crate::stream::SessionParams);

impl Handler<StartFedBroadcast> for Registry {
    type Result = Result<(Addr<StreamSession>, crate::stream::PcmFeed), MountInUse>;
    fn handle(&mut self, msg: StartFedBroadcast, ctx: &mut Context<Self>) -> Self::Result {
        let mount = msg.0.mount.clone();
        if self.streams.get(&mount).is_some_and(|a| a.connected()) {
            return Err(MountInUse);
        }
        let (session, feed) = StreamSession::start_fed(
            msg.0,
            self.deps.streams.clone(),
            ctx.address().recipient(),
            ctx.address().recipient(),
            self.deps.log.clone(),
        );
        self.streams.insert(mount, session.clone());
        Ok((session, feed))
    }
}

impl Handler<BroadcastEnded> for Registry {
    type Result = ();
    fn handle(&mut self, msg: BroadcastEnded, _: &mut Context<Self>) {
        // Only if the entry is the ended session: a new source may already be live on the mount.
        if self.streams.get(&msg.mount).is_some_and(|a| !a.connected()) {
            self.streams.remove(&msg.mount);
        }
    }
}

/// The live session on a mount, if any.
#[derive(Message)]
#[rtype(result = "Option<Addr<StreamSession>>")]
pub struct FindStream(pub String);

impl Handler<FindStream> for Registry {
    type Result = Option<Addr<StreamSession>>;
    fn handle(&mut self, msg: FindStream, _: &mut Context<Self>) -> Self::Result {
        self.streams.get(&msg.0).filter(|a| a.connected()).cloned()
    }
}

/// Every live session on this node, by mount (for `GET /metrics`).
#[derive(Message)]
#[rtype(result = "Vec<(String, Addr<StreamSession>)>")]
pub struct LiveStreams;

impl Handler<LiveStreams> for Registry {
    type Result = MessageResult<LiveStreams>;
    fn handle(&mut self, _: LiveStreams, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.streams
                .iter()
                .filter(|(_, a)| a.connected())
                .map(|(m, a)| (m.clone(), a.clone()))
                .collect(),
        )
    }
}

impl Handler<NotifyRoom> for Registry {
    type Result = ();
    fn handle(&mut self, msg: NotifyRoom, _: &mut Context<Self>) {
        match self.rooms.get(&msg.room).filter(|a| a.connected()) {
            // The room tells its members here and the other nodes.
            Some(room) => room.do_send(crate::room::StreamNotice(msg.frame)),
            // Nobody online here: the other nodes may still have members.
            None if self.deps.bus.is_clustered() => {
                let envelope = Envelope::new(
                    self.deps.node,
                    RoomEvent::Notice {
                        frame: msg.frame.to_string(),
                    },
                );
                self.deps
                    .bus
                    .publish(crate::bus::Topic::Room(msg.room), envelope.encode());
            }
            None => {}
        }
    }
}
