-- kamailio-blf-pbx.sql -- the SQLite database of kamailio-blf-pbx.cfg.
--
--   sqlite3 /var/lib/kamailio/kamailio.sqlite < kamailio-blf-pbx.sql
--
-- The version and subscriber tables are those of Kamailio 5.6
-- (/usr/share/kamailio/db_sqlite/standard-create.sql and
-- auth_db-create.sql): auth_db refuses to start unless the version table
-- says subscriber is at version 7. Passwords are stored in clear text
-- (auth_db calculate_ha1 = yes); with calculate_ha1 = no, fill ha1 with
-- md5(username:realm:password) instead.
--
-- The blf module itself keeps no table here.

CREATE TABLE version (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);

INSERT INTO version (table_name, table_version) values ('version','1');

CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);

CREATE INDEX subscriber_username_idx ON subscriber (username);

INSERT INTO version (table_name, table_version) values ('subscriber','7');

-- Sample extensions: CHANGE THE PASSWORDS before any phone can reach this.
INSERT INTO subscriber (username, domain, password) VALUES
    ('201', 'pbx.example.com', 'change-me-201'),
    ('202', 'pbx.example.com', 'change-me-202'),
    ('203', 'pbx.example.com', 'change-me-203'),
    ('204', 'pbx.example.com', 'change-me-204');
