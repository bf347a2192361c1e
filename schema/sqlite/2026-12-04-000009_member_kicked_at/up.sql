-- When the member was last kicked (unix ms, the commit's time): a replica that missed the kick's
-- live event takes out their connections that joined before it when it reloads the room's state.
ALTER TABLE room_members ADD COLUMN kicked_at BIGINT;
