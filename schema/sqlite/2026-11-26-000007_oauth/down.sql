DROP INDEX users_email_lower;
ALTER TABLE users DROP COLUMN email_verified;
DROP TABLE oauth_flows;
DROP TABLE oauth_identities;
