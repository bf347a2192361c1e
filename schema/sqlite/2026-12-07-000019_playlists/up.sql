-- Collaborative playlists (issue 14): a playlist of library tracks, owned by one user and edited
-- by the editors the owner invites. `version` counts every change: each edit bumps it first, in
-- its transaction, so edits of one playlist are serialised on its row (PostgreSQL row lock,
-- SQLite's single writer) and a client may send the version it saw (If-Match) to refuse stale
-- edits.
CREATE TABLE playlists (
    id BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX playlists_owner ON playlists (owner_id, id);

CREATE TABLE playlist_editors (
    playlist_id BIGINT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (playlist_id, user_id)
);
-- "My playlists": the ones a user edits.
CREATE INDEX playlist_editors_user ON playlist_editors (user_id, playlist_id);

-- The items, ordered by `position`: a fractional index (base-62 digits read as a fraction, see
-- src/playlists/position.rs). An insert or a move writes one key strictly between its
-- neighbours' and never renumbers other rows. Deleting a track removes its items.
-- `position` is compared byte by byte (SQLite's default BINARY collation; PostgreSQL declares
-- COLLATE "C" for the same order).
CREATE TABLE playlist_items (
    id BIGINT PRIMARY KEY,
    playlist_id BIGINT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    track_id BIGINT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    position TEXT NOT NULL,
    added_by BIGINT NOT NULL,
    added_at BIGINT NOT NULL
);
-- The order, and no two items at one place.
CREATE UNIQUE INDEX playlist_items_position ON playlist_items (playlist_id, position);
CREATE INDEX playlist_items_track ON playlist_items (track_id);
