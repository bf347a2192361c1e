-- Stream analytics (issue 14). `listener_sessions`: one row per listener session, progressive
-- (one HTTP connection to /live/MOUNT/VARIANT, on either port) or HLS (one `sid` polling a media
-- playlist, ended after a timeout without polls). Written in batches by each node's session log:
-- the row goes in when the session opens (`ended_at` NULL: still listening) and is closed when it
-- ends. `node`: the node that served it (its open rows are closed when it starts again). Raw rows
-- are folded into `listener_minutes` and deleted once they ended longer ago than the retention.
CREATE TABLE listener_sessions (
    id BIGINT PRIMARY KEY,
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    variant TEXT NOT NULL,
    kind TEXT NOT NULL,
    node BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT
);
-- The endpoint's range scan, and the expiry's scan of old ended sessions.
CREATE INDEX listener_sessions_stream ON listener_sessions (stream_id, started_at);
CREATE INDEX listener_sessions_ended ON listener_sessions (ended_at);
-- Per stream, minute (ms at its start) and variant: sessions overlapping the minute, sessions
-- that started in it, and the milliseconds listened within it. Only folded sessions are here;
-- the endpoint adds the raw ones on top.
CREATE TABLE listener_minutes (
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    minute BIGINT NOT NULL,
    variant TEXT NOT NULL,
    listeners BIGINT NOT NULL,
    sessions_started BIGINT NOT NULL,
    listen_ms BIGINT NOT NULL,
    PRIMARY KEY (stream_id, minute, variant)
);
-- Chat messages per minute of a room, counted at query time.
CREATE INDEX messages_room_created ON messages (room_id, created_at);
