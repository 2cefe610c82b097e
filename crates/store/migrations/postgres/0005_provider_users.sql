-- openhets store, PostgreSQL, version 5: provider desktop users (domain §5.6 attestation).

-- A provider user is bound to one NPI and attests or revokes vendor relationships for it. The
-- constraints of version 4 (named by PostgreSQL: desktop_user_role_check for the role column,
-- desktop_user_check for the table's) allowed two roles; they are replaced.
ALTER TABLE desktop_user ADD COLUMN npi TEXT;
ALTER TABLE desktop_user DROP CONSTRAINT desktop_user_role_check;
ALTER TABLE desktop_user DROP CONSTRAINT desktop_user_check;
ALTER TABLE desktop_user
    ADD CONSTRAINT desktop_user_role_check CHECK (role IN ('submitter', 'admin', 'provider')),
    -- A submitter user has a submitter and no NPI; a provider user an NPI and no submitter; an
    -- administrator neither.
    ADD CONSTRAINT desktop_user_submitter_check CHECK ((role = 'submitter') = (submitter_id IS NOT NULL)),
    ADD CONSTRAINT desktop_user_npi_check CHECK ((role = 'provider') = (npi IS NOT NULL));
