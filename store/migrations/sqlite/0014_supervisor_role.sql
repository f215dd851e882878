-- Supervisors: see PostgreSQL's 0014_supervisor_role.sql. SQLite cannot
-- change a CHECK in place: the table is rebuilt with the same rows, IDs
-- and token hashes (no other table refers to it).
CREATE TABLE staff_new (
    staff_id   INTEGER PRIMARY KEY,
    name       TEXT NOT NULL CHECK (name <> ''),
    role       TEXT NOT NULL CHECK (role IN ('analyst', 'admin', 'supervisor')),
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO staff_new (staff_id, name, role, token_hash, created_at)
    SELECT staff_id, name, role, token_hash, created_at FROM staff;
DROP TABLE staff;
ALTER TABLE staff_new RENAME TO staff;
