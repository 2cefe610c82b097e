-- openhets store, SQLite, version 5: provider desktop users (domain §5.6 attestation).

-- A provider user is bound to one NPI and attests or revokes vendor relationships for it. The
-- role's CHECK constraint names the roles, and SQLite cannot alter a constraint, so the table
-- is rebuilt with the new column and constraints, its rows copied as they are (every existing
-- user is a submitter user or an administrator, so npi is NULL for all of them).
CREATE TABLE desktop_user_v5 (
    username        TEXT NOT NULL PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('submitter', 'admin', 'provider')),
    submitter_id    TEXT,
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until_ms INTEGER,
    created_ms      INTEGER NOT NULL,
    npi             TEXT,
    -- A submitter user has a submitter and no NPI; a provider user an NPI and no submitter; an
    -- administrator neither.
    CHECK ((role = 'submitter') = (submitter_id IS NOT NULL)),
    CHECK ((role = 'provider') = (npi IS NOT NULL))
) WITHOUT ROWID;

INSERT INTO desktop_user_v5 (username, role, submitter_id, password_hash, failed_attempts, locked_until_ms,
                             created_ms, npi)
    SELECT username, role, submitter_id, password_hash, failed_attempts, locked_until_ms, created_ms, NULL
    FROM desktop_user;

DROP TABLE desktop_user;
ALTER TABLE desktop_user_v5 RENAME TO desktop_user;
