-- The track library (issue 14): audio files a user uploads for AutoDJ, kept in the blob store
-- (data_dir/tracks on local disk) under a key the server makes from the id (`ab/cd/<id>`). The
-- tags (title, artist, album, year, track_no) are read from the file and the first three may be
-- edited; `duration_ms` and `loudness_lufs` (EBU R128 integrated loudness) are measured once, on
-- upload. `artwork_key`: the embedded front cover, when the file has one. `lyrics`: LRC text as
-- the owner sent it (parsed when read). `origin`: with several nodes, the public URL of the node
-- whose disk holds the files (the others redirect there); NULL on a single node.
CREATE TABLE tracks (
    id BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    artwork_key TEXT,
    title TEXT NOT NULL,
    artist TEXT,
    album TEXT,
    year BIGINT,
    track_no BIGINT,
    duration_ms BIGINT NOT NULL,
    loudness_lufs DOUBLE PRECISION,
    lyrics TEXT,
    created_at BIGINT NOT NULL,
    origin TEXT
);
-- A user's library, newest first (the quota is a sum over the same rows).
CREATE INDEX tracks_owner ON tracks (owner_id, id);
