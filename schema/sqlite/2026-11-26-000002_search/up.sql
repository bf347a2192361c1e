-- Full-text search over message bodies with FTS5. The index is contentless and keyed by the message
-- id (not SQLite's implicit rowid, which VACUUM may renumber), kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content = '', tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages;

CREATE INDEX messages_author_id ON messages (author_id);
