DROP INDEX messages_room_created;
DROP TABLE listener_minutes;
DROP TABLE listener_sessions;
