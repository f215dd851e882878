-- What operators do about calls: unknown callers become leads, calls get a
-- purpose and a note, complaints are opened and closed.

-- A lead is a client made from an unknown caller's number. This table is
-- what makes one number one lead: whichever call, process or daemon adds
-- the number first wins (INSERT ... ON CONFLICT DO NOTHING, in the same
-- transaction as the client), and every other reads the winner back.
CREATE TABLE leads (
    e164       text PRIMARY KEY CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    client_id  bigint NOT NULL UNIQUE REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One note per call, written while the call is under way or after it: the
-- call's record is written only once it ends, so call_id refers to no
-- table. A note with a client is also their contact (contact_id), and a
-- complaint purpose opens a complaint (complaint_id); writing the note
-- again changes them rather than adding more.
CREATE TABLE call_notes (
    call_id       text PRIMARY KEY CHECK (call_id <> ''),
    client_id     bigint REFERENCES clients (client_id) ON DELETE SET NULL,
    purpose       text NOT NULL CHECK (purpose <> ''),
    note          text NOT NULL,
    operator      text NOT NULL, -- the extension of who wrote it last
    operator_name text NOT NULL,
    noted_at      timestamptz NOT NULL,
    contact_id    bigint REFERENCES contacts (contact_id) ON DELETE SET NULL,
    complaint_id  bigint REFERENCES complaints (complaint_id) ON DELETE SET NULL
);
CREATE INDEX call_notes_client_id ON call_notes (client_id);

-- Who closed a complaint and why; the call that opened it, if a call did.
ALTER TABLE complaints
    ADD COLUMN call_id      text,
    ADD COLUMN closed_by    text,
    ADD COLUMN close_reason text;
