-- openhets store, SQLite, version 7: beneficiaries in a rowid table keyed by the MBI as a number.
--
-- Version 1 kept them WITHOUT ROWID, clustered on the MBI. But a WITHOUT ROWID table is an
-- index B-tree, whose inner cells hold whole rows: with rows of about 330 bytes an inner page
-- held ten, the tree was six levels deep, and its 7,800 inner pages (31 MB at a million
-- beneficiaries) did not stay in a reader's page cache, so a lookup read 2.4 pages from the
-- operating system on average. In a rowid table the inner cells hold only the key: about 300
-- to a page, three levels at a million, every inner page cached, and a lookup reads at most its
-- leaf.
--
-- The key is the MBI read as a base-36 number (digits 0-9, then letters A-Z), which every valid
-- MBI (11 characters of 0-9 and A-Z, `eligibility::ids::is_valid_mbi`) has, and no two share;
-- 36^11 is below 2^63. `store::sqlite::mbi_key` computes the same number.
CREATE TABLE beneficiary_v7 (
    id   INTEGER PRIMARY KEY,
    -- The MBI as text too, for people reading the file; lookups use `id`.
    mbi  TEXT NOT NULL,
    body BLOB NOT NULL
);

INSERT INTO beneficiary_v7 (id, mbi, body)
SELECT (((((((((((instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 1, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 2, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 3, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 4, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 5, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 6, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 7, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 8, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 9, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 10, 1)) - 1) * 36
    + instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(mbi, 11, 1)) - 1),
    mbi, body
FROM beneficiary
-- The MBI text order is the number order (eleven characters each, digits before letters in
-- both): the rows are read in the old table's own order and appended, without a sort.
ORDER BY mbi;

DROP TABLE beneficiary;
ALTER TABLE beneficiary_v7 RENAME TO beneficiary;
