-- Live streams: a mount (the name in /live/MOUNT), its owner and the hash of its stream key.
CREATE TABLE streams (
    id BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id BIGINT REFERENCES rooms (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    mount TEXT NOT NULL UNIQUE,
    -- SHA-256 (hex) of the stream key; the key itself is shown once, at creation or rotation.
    key_hash TEXT NOT NULL,
    scheduled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX streams_owner_id ON streams (owner_id);
