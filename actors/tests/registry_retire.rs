//! Retiring an idle room does not stall the registry: while one room is slow to answer
//! `TryRetire` (stuck in a store read), the registry keeps routing, and once the room answers it is
//! retired and the next join gets a fresh actor. The store is an in-memory fake whose room loads
//! can be held at a gate (no database: nothing here touches storage).

use actix::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use veza_actors::bus::NoBus;
use veza_actors::ids::{MessageId, RoomId, UserId};
use veza_actors::model::{MessageView, RoomInfo, RoomSnapshot, UserRef};
use veza_actors::persistence::Persistence;
use veza_actors::reader::Readers;
use veza_actors::registry::{GetRoom, PeekRoom, RoomDeps};
use veza_actors::room::{self, RoomConfig, RoomIdle};
use veza_actors::store::{
    ChatStore, Request, RequestResult, SessionStanding, StoreError, StoreFactory,
};
use veza_actors::stream::StreamConfig;
use veza_actors::{Registry, Stats};

/// Room 1's loads wait while `held` is set; every other read answers at once.
struct GatedStore {
    held: Arc<AtomicBool>,
}

impl ChatStore for GatedStore {
    fn apply(&mut self, batch: &[Request]) -> Result<Vec<RequestResult>, StoreError> {
        Ok(batch.iter().map(|_| Ok(Vec::new())).collect())
    }

    fn load_room(&mut self, room: RoomId, _: usize) -> Result<Option<RoomSnapshot>, StoreError> {
        while room == RoomId(1) && self.held.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Some(RoomSnapshot {
            info: RoomInfo {
                id: room,
                name: format!("room{}", room.0),
                topic: None,
                private: false,
                owner: UserId(1),
                slow_mode_s: 0,
                last_seq: 0,
                kind: Default::default(),
            },
            members: HashMap::new(),
            recent: Vec::new(),
            commands: Vec::new(),
        }))
    }

    fn messages_after(
        &mut self,
        _: RoomId,
        _: i64,
        _: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        Ok(Vec::new())
    }

    fn messages_before(
        &mut self,
        _: RoomId,
        _: i64,
        _: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        Ok(Vec::new())
    }

    fn message_owner(&mut self, _: MessageId) -> Result<Option<(RoomId, UserId)>, StoreError> {
        Ok(None)
    }

    fn find_user(&mut self, _: &str) -> Result<Option<UserRef>, StoreError> {
        Ok(None)
    }

    fn session_standing(&mut self, _: &[i64]) -> Result<Vec<SessionStanding>, StoreError> {
        Ok(Vec::new())
    }

    fn unread(
        &mut self,
        _: RoomId,
        _: &[UserId],
    ) -> Result<Vec<veza_actors::store::Unread>, StoreError> {
        Ok(Vec::new())
    }
}

fn registry(held: Arc<AtomicBool>) -> Addr<Registry> {
    let factory: StoreFactory =
        Arc::new(move || Box::new(GatedStore { held: held.clone() }) as Box<dyn ChatStore>);
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let deps = RoomDeps {
        persistence: Persistence::start(factory.clone(), 1, 16, log.clone()),
        // Two threads: one may be stuck in room 1's load, the other serves everyone else.
        readers: Readers::start(factory, 2),
        config: Arc::new(RoomConfig {
            // The test sends `RoomIdle` itself.
            idle_after: Duration::from_secs(3600),
            ..RoomConfig::default()
        }),
        arbiters: vec![Arbiter::new().handle()],
        streams: Arc::new(StreamConfig::default()),
        bus: Arc::new(NoBus),
        node: 1,
        on_revoke: None,
        log,
    };
    Registry::new(deps).start()
}

#[actix_rt::test]
async fn a_room_slow_to_answer_its_retirement_does_not_stall_the_registry() {
    let held = Arc::new(AtomicBool::new(false));
    let registry = registry(held.clone());
    let slow = registry
        .send(GetRoom(RoomId(1)))
        .await
        .expect("registry answers")
        .expect("room 1 starts");

    // Room 1 restarts in place and waits for its reload, which the store holds: it cannot answer
    // `TryRetire` until the gate opens.
    held.store(true, Ordering::SeqCst);
    slow.do_send(room::Poison);
    registry.do_send(RoomIdle(RoomId(1), slow.clone()));

    // Meanwhile the registry keeps answering: another room starts, stats are counted.
    let other = tokio::time::timeout(Duration::from_secs(3), registry.send(GetRoom(RoomId(2))))
        .await
        .expect("the registry answered another room's join while room 1 was slow to retire")
        .expect("registry answers")
        .expect("room 2 starts");
    assert!(other.connected());
    let stats = tokio::time::timeout(Duration::from_secs(3), registry.send(Stats))
        .await
        .expect("stats while room 1 is slow")
        .expect("registry answers");
    assert_eq!(stats.rooms, 2);

    // Once room 1 answers, it is retired; the next join gets a fresh actor.
    held.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while registry
        .send(PeekRoom(RoomId(1)))
        .await
        .expect("peek")
        .is_some()
    {
        assert!(Instant::now() < deadline, "room 1 was not retired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = registry
        .send(GetRoom(RoomId(1)))
        .await
        .expect("registry answers")
        .expect("room 1 starts again");
    assert!(fresh.connected() && fresh != slow);
    assert!(registry
        .send(PeekRoom(RoomId(2)))
        .await
        .expect("peek")
        .is_some());
}
