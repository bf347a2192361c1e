DROP TABLE custom_emoji;
