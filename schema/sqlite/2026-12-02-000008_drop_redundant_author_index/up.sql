-- (author_id) is a prefix of the UNIQUE (author_id, client_id) index: the single-column index was
-- redundant, cost every insert, and led the planner to scan all of a prolific author's messages
-- when checking client_ids (stale statistics made it look selective).
DROP INDEX IF EXISTS messages_author_id;
