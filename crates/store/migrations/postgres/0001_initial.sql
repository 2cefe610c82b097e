-- openhets store, PostgreSQL, version 1.
-- Instants are milliseconds since 1970-01-01T00:00:00Z; dates are DATE.

-- One row per beneficiary: the whole eligibility::Beneficiary as one blob (a format byte, then
-- postcard), found through the primary key.
CREATE TABLE beneficiary (
    mbi  TEXT NOT NULL PRIMARY KEY,
    body BYTEA NOT NULL
);

-- The Medicare provider enrollment registry.
CREATE TABLE provider (
    npi         TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    first_name  TEXT,
    entity      TEXT NOT NULL CHECK (entity IN ('person', 'organization')),
    medicare    TEXT NOT NULL CHECK (medicare IN ('active', 'terminated', 'revoked', 'not_enrolled')),
    enrolled_on DATE,
    ended_on    DATE
);

-- Trading partners. password_hash is an argon2id PHC string; the clear text is never stored.
CREATE TABLE submitter (
    id                 TEXT NOT NULL PRIMARY KEY,
    name               TEXT NOT NULL,
    email              TEXT NOT NULL,
    status             TEXT NOT NULL
                       CHECK (status IN ('active', 'suspended', 'terminated', 'permanently_terminated')),
    suspended_until_ms BIGINT,
    suspensions        INTEGER NOT NULL DEFAULT 0 CHECK (suspensions >= 0),
    password_hash      TEXT NOT NULL
);

-- Submitter/NPI relationships; end_date is inclusive and open when NULL.
CREATE TABLE relationship (
    submitter_id   TEXT NOT NULL,
    npi            TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    effective_date DATE NOT NULL,
    end_date       DATE,
    PRIMARY KEY (submitter_id, npi)
);

-- Medicare cost sharing per calendar year.
CREATE TABLE cost_sharing (
    year                         INTEGER NOT NULL PRIMARY KEY,
    part_a_deductible            DOUBLE PRECISION NOT NULL,
    part_a_coinsurance_day_61_90 DOUBLE PRECISION NOT NULL,
    part_a_lifetime_reserve_day  DOUBLE PRECISION NOT NULL,
    snf_coinsurance_day_21_100   DOUBLE PRECISION NOT NULL,
    part_b_deductible            DOUBLE PRECISION NOT NULL,
    part_b_coinsurance_rate      DOUBLE PRECISION NOT NULL,
    blood_deductible_pints       INTEGER NOT NULL,
    smoking_cessation_sessions   INTEGER NOT NULL,
    pulmonary_rehab_sessions     INTEGER NOT NULL
);

-- Append-only record of every transaction: who asked what, when, and the outcome. Never the
-- payload. aaa_codes and service_types are comma-separated codes.
CREATE TABLE transaction_record (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms         BIGINT NOT NULL,
    submitter_id  TEXT NOT NULL,
    npi           TEXT,
    mbi           TEXT,
    outcome       TEXT NOT NULL CHECK (outcome IN ('271', '271-AAA', '999', 'TA1')),
    aaa_codes     TEXT NOT NULL DEFAULT '',
    service_types TEXT NOT NULL DEFAULT '',
    duration_us   BIGINT NOT NULL CHECK (duration_us >= 0)
);

-- The audits read one submitter's transactions over a period.
CREATE INDEX transaction_record_submitter_at ON transaction_record (submitter_id, at_ms);

-- Records are evidence: they are never rewritten (retention may delete old ones).
CREATE FUNCTION transaction_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transaction records are append-only';
END;
$$;

CREATE TRIGGER transaction_record_append_only BEFORE UPDATE ON transaction_record
    FOR EACH ROW EXECUTE FUNCTION transaction_record_append_only();
