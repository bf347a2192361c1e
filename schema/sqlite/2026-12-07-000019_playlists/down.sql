DROP TABLE playlist_items;
DROP TABLE playlist_editors;
DROP TABLE playlists;
