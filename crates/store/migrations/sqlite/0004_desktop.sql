-- openhets store, SQLite, version 4: the HETS Desktop (HDT) and its help-desk console.

-- People who sign in to the desktop. A submitter user acts for exactly one submitter; an
-- administrator (help desk) for none. password_hash is an argon2id PHC string. Five wrong
-- passwords in a row set locked_until_ms (30 minutes); an administrator may unlock earlier.
CREATE TABLE desktop_user (
    username        TEXT NOT NULL PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('submitter', 'admin')),
    submitter_id    TEXT,
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until_ms INTEGER,
    created_ms      INTEGER NOT NULL,
    CHECK ((role = 'admin') = (submitter_id IS NULL))
) WITHOUT ROWID;

-- Signed-in sessions, keyed by a hash of the session token (the token itself is never stored,
-- so a copy of the database cannot be used to sign in).
CREATE TABLE desktop_session (
    token_hash   TEXT NOT NULL PRIMARY KEY,
    username     TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX desktop_session_user ON desktop_session (username);

-- What the help desk keeps of a trading partner beyond the real-time credentials.
CREATE TABLE submitter_profile (
    submitter_id        TEXT NOT NULL PRIMARY KEY,
    tpa_date            TEXT,
    rob_date            TEXT,
    connection          TEXT NOT NULL DEFAULT 'both' CHECK (connection IN ('soap', 'mime', 'both')),
    certificate_subject TEXT
) WITHOUT ROWID;

-- Provider attestations of vendor relationships (domain §5.6): one row per NPI and vendor.
CREATE TABLE provider_attestation (
    npi          TEXT NOT NULL,
    submitter_id TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('attested', 'revoked')),
    at_ms        INTEGER NOT NULL,
    PRIMARY KEY (npi, submitter_id)
) WITHOUT ROWID;

-- D12: HDT freeze windows, during which every relationship change is refused.
CREATE TABLE hdt_freeze (
    id        INTEGER PRIMARY KEY,
    starts_ms INTEGER NOT NULL,
    ends_ms   INTEGER NOT NULL CHECK (ends_ms > starts_ms),
    reason    TEXT NOT NULL
);

-- Release bulletins, emailed to an audience through the outbox once sent.
CREATE TABLE bulletin (
    id           INTEGER PRIMARY KEY,
    release      TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    audience     TEXT NOT NULL CHECK (audience IN ('all', 'soap', 'mime')),
    scheduled_ms INTEGER NOT NULL,
    sent_ms      INTEGER
);

-- Small operator settings (e.g. relationship_rule), by name.
CREATE TABLE desktop_setting (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
