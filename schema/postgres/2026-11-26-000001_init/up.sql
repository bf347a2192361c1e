-- Veza's first schema. Portable types only (BIGINT ids and unix-ms timestamps, TEXT, BOOLEAN) so the
-- SQLite twin in schema/sqlite stays column-for-column identical; a test checks that.

CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL,
    -- Lower-cased username: uniqueness is case-insensitive on every backend without collations.
    username_lower TEXT NOT NULL UNIQUE,
    email TEXT,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per login: a family of refresh tokens. Revoking it ends the login everywhere, including
-- the access tokens minted under it (they carry its id).
CREATE TABLE sessions (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id BIGINT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the opaque token, hex: the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- Set when the token is rotated or its family revoked; presenting it again is reuse.
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE rooms (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    topic TEXT,
    private BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id BIGINT NOT NULL REFERENCES users (id),
    -- The last sequence number handed out in this room; bumped in the same transaction as the insert.
    last_seq BIGINT NOT NULL DEFAULT 0,
    slow_mode_s BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- owner | moderator | member
    role TEXT NOT NULL DEFAULT 'member',
    joined_at BIGINT NOT NULL,
    banned_until BIGINT,
    muted_until BIGINT,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user_id ON room_members (user_id);

CREATE TABLE messages (
    id BIGINT PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES users (id),
    -- user | action | system
    kind TEXT NOT NULL DEFAULT 'user',
    body TEXT NOT NULL,
    thread_id BIGINT,
    client_id TEXT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT,
    UNIQUE (room_id, seq),
    UNIQUE (author_id, client_id)
);

CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Append-only record of security-relevant and moderation actions.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    actor_id BIGINT REFERENCES users (id),
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    room_id BIGINT,
    ip TEXT,
    user_agent TEXT,
    -- JSON object with action-specific details.
    details TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id);
