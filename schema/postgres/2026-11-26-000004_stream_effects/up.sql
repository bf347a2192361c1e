-- The live effects chain of a stream, as JSON ({"chain":[...]}); applied when it goes live and
-- changed while on air by PUT /api/v2/streams/{id}/effects.
ALTER TABLE streams ADD COLUMN effects TEXT NOT NULL DEFAULT '{"chain":[]}';
