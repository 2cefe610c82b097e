-- openhets store, PostgreSQL, version 7: nothing to change.
--
-- SQLite's version 7 moves its beneficiaries out of a WITHOUT ROWID table, whose inner B-tree
-- cells held whole rows, into a rowid table keyed by the MBI as a number. PostgreSQL keeps rows
-- in a heap and the MBI in a B-tree index of keys alone, which is already what SQLite now does.
-- The step exists so that both stores count the same versions.
SELECT 1;
