CREATE INDEX messages_author_id ON messages (author_id);
