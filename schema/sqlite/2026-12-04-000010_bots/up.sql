-- Bot accounts (issue 12): a bot is a user with the `bot` role, owned by the user who made it, that
-- signs in with a long-lived token (`Authorization: Bot veza_bot_...`). Only the token's SHA-256 is
-- kept; `token_hint` (its first characters) tells tokens apart in listings. Each token is one
-- session, so revoking it closes the bot's sockets on every node like any other session.
CREATE TABLE bots (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    token_hint TEXT NOT NULL,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    created_at BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL
);
CREATE INDEX bots_by_owner ON bots (owner_id);
