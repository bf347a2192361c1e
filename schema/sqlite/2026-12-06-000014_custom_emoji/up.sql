-- Custom emoji (issue 12): a room's own (`room_id`) or server-wide (`room_id` NULL), written
-- `:shortcode:` in messages and reactions. The image is kept here, not on disk, because the nodes
-- of a cluster share the store but not the data dir; an emoji is replaced by deleting it and
-- uploading again, so its id (and its URL, served as immutable) changes.
CREATE TABLE custom_emoji (
    id BIGINT PRIMARY KEY,
    room_id BIGINT REFERENCES rooms (id) ON DELETE CASCADE,
    shortcode TEXT NOT NULL,
    content_type TEXT NOT NULL,
    image BLOB NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
-- One shortcode per room; NULLs are distinct in a UNIQUE index, so the server-wide set has its own.
CREATE UNIQUE INDEX custom_emoji_room_shortcode ON custom_emoji (room_id, shortcode);
CREATE UNIQUE INDEX custom_emoji_server_shortcode ON custom_emoji (shortcode) WHERE room_id IS NULL;
