-- Two-factor login (TOTP, RFC 6238). The secret is stored encrypted (base64 of nonce and
-- XChaCha20-Poly1305 ciphertext, key from the configuration); it exists, not yet enabled, between
-- enrolment and confirmation. totp_last_step is the last time step whose code was accepted: a code
-- is good once.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- One-time backup codes, stored as SHA-256 hashes.
CREATE TABLE backup_codes (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX backup_codes_user_id ON backup_codes (user_id);
