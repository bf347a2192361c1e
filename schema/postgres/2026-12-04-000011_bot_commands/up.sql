-- Commands bots register per room (issue 12): `/name` typed by a member goes to `bot_id` as a
-- `command` event. One bot per name and room; a registration replaces that bot's rows.
CREATE TABLE bot_commands (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    bot_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    args TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, name)
);
CREATE INDEX bot_commands_by_bot ON bot_commands (bot_id);
