-- Outgoing webhooks (issue 12): a room's events POSTed to `url`, signed with a secret kept sealed
-- (XChaCha20-Poly1305 under the server key, bound to the hook id). `events` and `triggers` are
-- space-separated lists (`triggers` '' = every message). The circuit breaker's state is here so
-- every node sees it; a half-open circuit lets one trial call out at a time (`trial_until`).
CREATE TABLE outgoing_webhooks (
    id BIGINT PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    events TEXT NOT NULL,
    triggers TEXT NOT NULL DEFAULT '',
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    circuit_open_until BIGINT,
    -- While half-open: the one trial call in flight holds this until then.
    trial_until BIGINT
);
CREATE INDEX outgoing_webhooks_live_by_room ON outgoing_webhooks (room_id) WHERE revoked_at IS NULL;

-- The durable queue and the delivery log in one: a row is written in the same transaction as the
-- event it carries (so a committed event is never without its deliveries), its payload rendered at
-- the first attempt and sent as the same bytes on every retry.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    hook_id BIGINT NOT NULL REFERENCES outgoing_webhooks (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    detail TEXT,
    payload TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    latency_ms BIGINT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (hook_id, id);
