ALTER TABLE room_members DROP COLUMN kicked_at;
