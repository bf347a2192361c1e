-- Schedules (issue 14): a stream's slots, weekly (`weekday` 0 = Monday .. 6 = Sunday, at
-- `local_time` in `time_zone`) or one-off (`local_date` + `local_time` in `time_zone`, its UTC
-- start kept in `once_at` for the ticker's query); `duration_min` long. Times are local so a
-- weekly slot follows its zone's DST changes.
CREATE TABLE stream_slots (
    id BIGINT PRIMARY KEY,
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    weekday BIGINT,
    local_date TEXT,
    local_time TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    duration_min BIGINT NOT NULL,
    once_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX stream_slots_stream ON stream_slots (stream_id);

-- Who follows which stream (they hear `show_starting` when a slot opens).
CREATE TABLE stream_follows (
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);
CREATE INDEX stream_follows_user ON stream_follows (user_id, created_at);

-- One row per occurrence that fired: the node whose INSERT succeeds announces it, so an
-- occurrence is announced once however many nodes tick.
CREATE TABLE schedule_firings (
    slot_id BIGINT NOT NULL REFERENCES stream_slots (id) ON DELETE CASCADE,
    occurrence_ms BIGINT NOT NULL,
    node BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    PRIMARY KEY (slot_id, occurrence_ms)
);

-- `show_starting` entries in the feed name a stream, and a stream need not have a room: SQLite
-- cannot drop a NOT NULL, so the table is rebuilt (nothing references it).
CREATE TABLE notifications_new (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    room_id BIGINT REFERENCES rooms (id) ON DELETE CASCADE,
    message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
    seq BIGINT,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    stream_id BIGINT REFERENCES streams (id) ON DELETE CASCADE
);
INSERT INTO notifications_new (id, user_id, kind, room_id, message_id, seq, actor_id, created_at, read_at)
    SELECT id, user_id, kind, room_id, message_id, seq, actor_id, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_feed ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, room_id, seq) WHERE read_at IS NULL;
