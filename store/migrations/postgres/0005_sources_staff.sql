-- Where calls come from (the advertising behind each dialled number), who
-- called, and the staff tokens that read the whole call log.

-- A dialled number's source and campaign from valid_from (inclusive) to
-- valid_to (exclusive; NULL: until further notice). did is the number's
-- E.164 form when it has one (screenpop.DIDKey), so +7 495..., 8 495...
-- and 7495... are one line. internal marks an employee's direct line: a
-- call to it is not the advertising's. Periods of one number never
-- overlap (the store checks as it adds).
CREATE TABLE sources (
    source_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    did        text NOT NULL CHECK (did <> ''),
    source     text NOT NULL CHECK (source <> ''),
    campaign   text NOT NULL DEFAULT '',
    valid_from timestamptz NOT NULL,
    valid_to   timestamptz CHECK (valid_to > valid_from),
    internal   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sources_did ON sources (did, valid_from);

-- Each call keeps the source and campaign its number had when it started,
-- and the kind of caller it was: rewriting sources later changes no call.
ALTER TABLE calls
    ADD COLUMN source text NOT NULL DEFAULT '',
    ADD COLUMN campaign text NOT NULL DEFAULT '',
    ADD COLUMN caller_kind text NOT NULL DEFAULT 'new'
        CHECK (caller_kind IN ('client', 'lead', 'new', 'withheld', 'internal'));

-- Calls logged before this migration get the kind the store would have
-- given them.
UPDATE calls SET caller_kind = CASE
    WHEN withheld THEN 'withheld'
    WHEN caller_e164 IS NULL AND btrim(caller) ~ '^[0-9]{1,6}$' THEN 'internal'
    WHEN caller_e164 IS NULL THEN 'new'
    WHEN EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
                 WHERE p.e164 = calls.caller_e164 AND NOT c.lead) THEN 'client'
    WHEN EXISTS (SELECT 1 FROM calls o WHERE o.caller_e164 = calls.caller_e164 AND o.started_at < calls.started_at)
      OR EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
                 WHERE p.e164 = calls.caller_e164 AND c.lead AND c.created_at < calls.started_at - interval '1 minute') THEN 'lead'
    ELSE 'new' END;

-- Tokens for analysts' tools and admins. Like operators' tokens, only
-- their SHA-256 is kept.
CREATE TABLE staff (
    staff_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (name <> ''),
    role       text NOT NULL CHECK (role IN ('analyst', 'admin')),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
