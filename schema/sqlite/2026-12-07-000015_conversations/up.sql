-- Conversations (issue 13): direct and group conversations, threads, mentions and the notification
-- feed, read markers, blocks and pins.

-- room | direct | group. Direct and group conversations are private rooms whose `member_key` (the
-- members' ids, sorted, comma-separated) makes opening one again return the same room.
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'room';
ALTER TABLE rooms ADD COLUMN member_key TEXT;
CREATE UNIQUE INDEX rooms_member_key ON rooms (member_key);

-- Threads: a reply has `thread_id` = its root (a top-level message); the root counts its replies.
-- `also_in_room`: the reply is shown in the room's timeline too.
ALTER TABLE messages ADD COLUMN reply_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at BIGINT;
ALTER TABLE messages ADD COLUMN also_in_room BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX messages_thread ON messages (thread_id, seq) WHERE thread_id IS NOT NULL;

-- Read markers: the last seq the member has read (new members start at the room's end), and
-- whether they muted the room's notifications.
ALTER TABLE room_members ADD COLUMN read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE room_members ADD COLUMN notifications_muted BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE room_members SET read_seq = (SELECT last_seq FROM rooms WHERE rooms.id = room_members.room_id);

-- The notification feed: one row per user per event (`mention` today), read when the user
-- reads the room past it or marks it read. A room's mention count is its unread mention rows.
CREATE TABLE notifications (
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
CREATE INDEX notifications_feed ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, room_id, seq) WHERE read_at IS NULL;

-- `user_id` blocked `blocked_id`: no direct messages between them, no mentions of user_id by them.
CREATE TABLE user_blocks (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id);

CREATE TABLE pins (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    pinned_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, message_id)
);
