-- blf module: the table of persisted subscriptions (sqlite).
-- The module creates it by itself when it is missing (db_sqlite, and
-- db_postgres when its user may CREATE); this file is for creating it by
-- hand or with your own tooling. Keep it in sync with blf_db.c.
-- Every string column is TEXT: SIP sets no length limit, and a row the
-- database refused for a length would never be stored.
CREATE TABLE blf_subscriptions (
    id INTEGER PRIMARY KEY NOT NULL,
    callid TEXT NOT NULL,
    from_tag TEXT NOT NULL,
    to_tag TEXT NOT NULL,
    entity TEXT NOT NULL,
    watcher TEXT NOT NULL,
    watcher_uri TEXT NOT NULL,
    uri TEXT NOT NULL,
    entity_esc TEXT NOT NULL,
    contact TEXT NOT NULL,
    record_route TEXT DEFAULT '' NOT NULL,
    socket TEXT NOT NULL,
    local_contact TEXT NOT NULL,
    event_id TEXT DEFAULT '' NOT NULL,
    dst TEXT DEFAULT '' NOT NULL,
    expires BIGINT NOT NULL,
    version BIGINT DEFAULT 0 NOT NULL,
    cseq BIGINT DEFAULT 0 NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    vis INTEGER DEFAULT 0 NOT NULL,
    event TEXT DEFAULT 'dialog' NOT NULL,
    mvers TEXT DEFAULT '' NOT NULL,
    CONSTRAINT blf_subscriptions_dialog_idx UNIQUE (callid, from_tag, to_tag)
);

CREATE INDEX blf_subscriptions_expires_idx ON blf_subscriptions (expires);

-- Upgrading a table of a version before event packages (the module does
-- this by itself at start when it may ALTER the table): its rows are
-- dialog subscriptions.
-- ALTER TABLE blf_subscriptions ADD COLUMN event TEXT DEFAULT 'dialog' NOT NULL;

-- Upgrading a table of a version before lists stored their member versions
-- (done by the module at start too; without the column, a list member's
-- body version resumes at the RLMI version after a restart).
-- ALTER TABLE blf_subscriptions ADD COLUMN mvers TEXT DEFAULT '' NOT NULL;

-- The presence documents PUBLISHed (RFC 3903), one row per live ETag; the
-- raw body is kept and parsed again at start. Created by the module when
-- missing, like the table above. Keep it in sync with blf_db_pub.c.
CREATE TABLE IF NOT EXISTS blf_publications (
    etag TEXT PRIMARY KEY NOT NULL,
    entity TEXT NOT NULL,
    expires BIGINT NOT NULL,
    modified BIGINT DEFAULT 0 NOT NULL,
    seq BIGINT DEFAULT 0 NOT NULL,
    body TEXT NOT NULL
);
