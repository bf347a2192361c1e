-- AutoDJ (issue 14): a stream plays a playlist when no source is live. One row per stream that has
-- one; `enabled` false keeps the settings while the AutoDJ is off. `crossfade_ms` is between
-- tracks, `handover_ms` the crossfade to a live source and back.
CREATE TABLE stream_autodj (
    stream_id BIGINT PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
    playlist_id BIGINT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    mode TEXT NOT NULL,
    crossfade_ms BIGINT NOT NULL,
    handover_ms BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX stream_autodj_enabled ON stream_autodj (enabled);
