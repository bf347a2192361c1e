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

-- `show_starting` entries in the feed name a stream, and a stream need not have a room.
ALTER TABLE notifications ALTER COLUMN room_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN stream_id BIGINT REFERENCES streams (id) ON DELETE CASCADE;
