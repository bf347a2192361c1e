ALTER TABLE streams DROP COLUMN effects;
