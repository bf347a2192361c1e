-- Attachments (issue 13): files uploaded into a room, kept in the blob store (data_dir/uploads on
-- local disk) under `storage_key`, a key the server makes from the id (never from the filename).
-- `message_id` is set when a message takes the upload; until then only its owner sees it and
-- `delete_after` is its expiry. Deleting the message sets `delete_after` (now + upload_grace_s);
-- a node's sweeper deletes the row (its claim) and then the files once that time has passed.
-- `origin`: with several nodes, the public URL of the node whose disk holds the files (the others
-- redirect there, and only it sweeps them); NULL on a single node.
CREATE TABLE uploads (
    id BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    message_id BIGINT,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    thumbnail_key TEXT,
    created_at BIGINT NOT NULL,
    delete_after BIGINT,
    origin TEXT
);
-- The quota is a sum over the owner's uploads; messages list their attachments; the sweeper
-- looks for what is due.
CREATE INDEX uploads_owner ON uploads (owner_id);
CREATE INDEX uploads_message ON uploads (message_id);
CREATE INDEX uploads_delete_after ON uploads (delete_after);
