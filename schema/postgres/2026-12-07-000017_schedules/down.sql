DELETE FROM notifications WHERE room_id IS NULL;
ALTER TABLE notifications DROP COLUMN stream_id;
ALTER TABLE notifications ALTER COLUMN room_id SET NOT NULL;
DROP TABLE schedule_firings;
DROP TABLE stream_follows;
DROP TABLE stream_slots;
