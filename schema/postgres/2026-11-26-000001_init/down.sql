DROP TABLE audit_log;
DROP TABLE reactions;
DROP TABLE messages;
DROP TABLE room_members;
DROP TABLE rooms;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
