CREATE TABLE notifications_old (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
    seq BIGINT,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
INSERT INTO notifications_old (id, user_id, kind, room_id, message_id, seq, actor_id, created_at, read_at)
    SELECT id, user_id, kind, room_id, message_id, seq, actor_id, created_at, read_at FROM notifications
    WHERE room_id IS NOT NULL;
DROP TABLE notifications;
ALTER TABLE notifications_old RENAME TO notifications;
CREATE INDEX notifications_feed ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, room_id, seq) WHERE read_at IS NULL;
DROP TABLE schedule_firings;
DROP TABLE stream_follows;
DROP TABLE stream_slots;
