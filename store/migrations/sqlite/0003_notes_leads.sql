-- What operators do about calls: unknown callers become leads, calls get a
-- purpose and a note, complaints are opened and closed. The tables are
-- PostgreSQL's (see its 0003_notes_leads.sql), in SQLite's types.

CREATE TABLE leads (
    e164       TEXT PRIMARY KEY CHECK (e164 GLOB '+[1-9]*' AND substr(e164, 2) NOT GLOB '*[^0-9]*' AND length(e164) BETWEEN 8 AND 16),
    client_id  INTEGER NOT NULL UNIQUE REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

CREATE TABLE call_notes (
    call_id       TEXT PRIMARY KEY CHECK (call_id <> ''),
    client_id     INTEGER REFERENCES clients (client_id) ON DELETE SET NULL,
    purpose       TEXT NOT NULL CHECK (purpose <> ''),
    note          TEXT NOT NULL,
    operator      TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    noted_at      TEXT NOT NULL,
    contact_id    INTEGER REFERENCES contacts (contact_id) ON DELETE SET NULL,
    complaint_id  INTEGER REFERENCES complaints (complaint_id) ON DELETE SET NULL
);
CREATE INDEX call_notes_client_id ON call_notes (client_id);

ALTER TABLE complaints ADD COLUMN call_id TEXT;
ALTER TABLE complaints ADD COLUMN closed_by TEXT;
ALTER TABLE complaints ADD COLUMN close_reason TEXT;
