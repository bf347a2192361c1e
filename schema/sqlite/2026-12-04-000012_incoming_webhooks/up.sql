-- Incoming webhooks (issue 12): `POST /hooks/{id}/{secret}` posts into `room_id` as `user_id`, an
-- account of the `bot` role made for the hook (its name is the hook's name). Only the secret's
-- SHA-256 is kept; a revoked hook keeps its row (its messages keep their author).
CREATE TABLE incoming_webhooks (
    id BIGINT PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX incoming_webhooks_by_room ON incoming_webhooks (room_id);
