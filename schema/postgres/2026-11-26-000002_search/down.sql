DROP INDEX messages_author_id;
DROP INDEX messages_body_search;
