-- Full-text search over message bodies: an expression GIN index, queried with the same expression.
-- 'simple' (no stemming, no stop words) because rooms speak many languages.
CREATE INDEX messages_body_search ON messages USING GIN (to_tsvector('simple', body));
-- History paging reads (room_id, seq) ranges; the UNIQUE (room_id, seq) constraint indexes them.
CREATE INDEX messages_author_id ON messages (author_id);
