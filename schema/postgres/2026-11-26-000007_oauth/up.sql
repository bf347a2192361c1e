-- OAuth2 / OpenID Connect login. An identity is one provider account (provider + its stable
-- subject id) linked to one Veza user; a user has at most one identity per provider.
CREATE TABLE oauth_identities (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, subject),
    UNIQUE (user_id, provider)
);

-- A login flow in progress: created when the browser is sent to the provider, consumed once when
-- it comes back. Keyed by the SHA-256 of `state`; holds the PKCE verifier and the OIDC nonce, and
-- the user who asked to link when the flow links rather than logs in. kind 'second_factor': the
-- provider login succeeded for an account with 2FA on, and the ticket (keyed the same way) waits
-- for a TOTP or backup code.
CREATE TABLE oauth_flows (
    state_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce TEXT,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Accounts created by a provider have no password (''); the address a provider vouched for is
-- marked verified, and only a verified address links a new provider login to an existing account.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX users_email_lower ON users (lower(email));
