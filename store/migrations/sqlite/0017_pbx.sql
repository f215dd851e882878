-- Several Asterisk boxes: see PostgreSQL's 0017_pbx.sql. A call is keyed
-- (pbx, call_id); pbx is '' for the one box of a single-box setup, so the
-- rows stored before get '' and read as they did.
--
-- SQLite cannot change a primary key in place: calls, offers and
-- call_notes are rebuilt with the same rows. The views that read them are
-- dropped first (renaming a table checks every view) and made again
-- below, with pbx as their last column; triggers on the rebuilt tables go
-- with them and are made again at the end of this file.
DROP VIEW calls_by_source_day;
DROP VIEW operator_stats;
DROP VIEW missed_without_callback;
DROP VIEW report_calls;
DROP VIEW operator_calls;

CREATE TABLE calls_new (
    pbx               TEXT NOT NULL DEFAULT '',
    call_id           TEXT NOT NULL,
    caller            TEXT NOT NULL,
    caller_e164       TEXT,
    caller_name       TEXT NOT NULL,
    withheld          INTEGER NOT NULL CHECK (withheld IN (0, 1)),
    did               TEXT NOT NULL,
    status            TEXT NOT NULL,
    offered_to        TEXT NOT NULL CHECK (json_valid(offered_to)),
    answered_by       TEXT,
    talked_to         TEXT NOT NULL CHECK (json_valid(talked_to)),
    ring_seconds      REAL NOT NULL,
    wait_seconds      REAL NOT NULL,
    talk_seconds      REAL NOT NULL,
    hangup_cause      INTEGER NOT NULL,
    hangup_cause_text TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    answered_at       TEXT,
    ended_at          TEXT NOT NULL,
    close_reason      TEXT NOT NULL,
    recorded_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    direction         TEXT NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound')),
    source            TEXT NOT NULL DEFAULT '',
    campaign          TEXT NOT NULL DEFAULT '',
    caller_kind       TEXT NOT NULL DEFAULT 'new'
        CHECK (caller_kind IN ('client', 'lead', 'new', 'withheld', 'internal')),
    gaps              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(gaps)),
    lookup_name       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (pbx, call_id)
);
INSERT INTO calls_new (call_id, caller, caller_e164, caller_name, withheld, did, status,
    offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
    hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, recorded_at,
    direction, source, campaign, caller_kind, gaps, lookup_name)
SELECT call_id, caller, caller_e164, caller_name, withheld, did, status,
    offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
    hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, recorded_at,
    direction, source, campaign, caller_kind, gaps, lookup_name
FROM calls;

CREATE TABLE offers_new (
    pbx         TEXT NOT NULL DEFAULT '',
    call_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    operator    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    dialed_at   TEXT NOT NULL,
    ringing_at  TEXT,
    answered_at TEXT,
    ended_at    TEXT,
    outcome     TEXT NOT NULL,
    dial_status TEXT NOT NULL,
    PRIMARY KEY (call_id, pbx, seq), -- readOffers asks for call IDs
    FOREIGN KEY (pbx, call_id) REFERENCES calls_new (pbx, call_id) ON DELETE CASCADE
);
INSERT INTO offers_new (call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status)
SELECT call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status
FROM offers;

CREATE TABLE call_notes_new (
    pbx           TEXT NOT NULL DEFAULT '',
    call_id       TEXT NOT NULL CHECK (call_id <> ''),
    client_id     INTEGER REFERENCES clients (client_id) ON DELETE SET NULL,
    purpose       TEXT NOT NULL CHECK (purpose <> ''),
    note          TEXT NOT NULL,
    operator      TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    noted_at      TEXT NOT NULL,
    contact_id    INTEGER REFERENCES contacts (contact_id) ON DELETE SET NULL,
    complaint_id  INTEGER REFERENCES complaints (complaint_id) ON DELETE SET NULL,
    PRIMARY KEY (pbx, call_id)
);
INSERT INTO call_notes_new (call_id, client_id, purpose, note, operator, operator_name, noted_at, contact_id, complaint_id)
SELECT call_id, client_id, purpose, note, operator, operator_name, noted_at, contact_id, complaint_id
FROM call_notes;

-- The children first: dropping a table deletes its rows, and a parent's
-- delete would cascade to the offers still referring to it.
DROP TABLE offers;
DROP TABLE calls;
DROP TABLE call_notes;
ALTER TABLE calls_new RENAME TO calls; -- offers_new's reference follows the name
ALTER TABLE offers_new RENAME TO offers;
ALTER TABLE call_notes_new RENAME TO call_notes;

CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_caller_e164 ON calls (caller_e164);
CREATE INDEX calls_did ON calls (did);
CREATE INDEX calls_resolving ON calls (caller_e164, started_at)
    WHERE direction = 'outbound' OR status = 'answered';
CREATE INDEX calls_missed ON calls (caller_e164, started_at)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned', 'failed') AND caller_e164 IS NOT NULL;
CREATE INDEX calls_outbound_number ON calls (caller_e164, started_at) WHERE direction = 'outbound';
CREATE INDEX calls_inbound_callers ON calls (started_at, source, caller_e164, caller_kind)
    WHERE direction = 'inbound';
CREATE INDEX calls_inbound_missed ON calls (started_at, source, caller_e164)
    WHERE direction = 'inbound' AND status IN ('missed', 'abandoned') AND caller_e164 IS NOT NULL;
CREATE INDEX offers_operator ON offers (operator);
CREATE INDEX call_notes_client_id ON call_notes (client_id);

-- The other tables naming a call.
ALTER TABLE complaints ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
ALTER TABLE rejected_calls ADD COLUMN pbx TEXT NOT NULL DEFAULT '';

-- The views as 0009, 0011 and 0012 made them, joining a call's offers and
-- note on (pbx, call_id); those that name a call end with its pbx.
CREATE VIEW calls_by_source_day AS
SELECT day, strftime('%Y-%m-%dT%H:%M:%fZ', day, 'utc') AS day_start, source,
    total, answered, missed, abandoned, busy, failed, total - answered AS lost,
    new_callers, avg_wait_seconds
FROM (
    SELECT date(started_at, 'localtime') AS day, source,
        count(*) AS total,
        count(*) FILTER (WHERE status = 'answered') AS answered,
        count(*) FILTER (WHERE status = 'missed') AS missed,
        count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE status = 'busy') AS busy,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE caller_kind = 'new') AS new_callers,
        round(avg(wait_seconds) FILTER (WHERE status = 'answered'
            AND NOT EXISTS (SELECT 1 FROM json_each(gaps) WHERE value IN ('start', 'answer'))), 1) AS avg_wait_seconds
    FROM calls
    WHERE direction = 'inbound'
    GROUP BY day, source
);

CREATE VIEW operator_stats AS
SELECT s.day, strftime('%Y-%m-%dT%H:%M:%fZ', s.day, 'utc') AS day_start, s.operator, o.name AS operator_name,
    s.offered, s.answered, s.offered - s.answered AS missed, s.no_answer,
    round(CAST(s.answered AS REAL) / nullif(s.offered, 0), 4) AS answer_rate,
    s.avg_ring_seconds, s.avg_talk_seconds, s.talk_seconds, s.outbound, s.outbound_answered
FROM (
    SELECT t.day, t.operator,
        count(*) FILTER (WHERE t.inbound) AS offered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'answered') AS answered,
        count(*) FILTER (WHERE t.inbound AND t.outcome = 'no_answer') AS no_answer,
        round(avg(t.ring_seconds), 1) AS avg_ring_seconds,
        round(avg(t.talk_seconds), 1) AS avg_talk_seconds,
        round(coalesce(sum(t.talk_seconds), 0), 1) AS talk_seconds,
        count(*) FILTER (WHERE NOT t.inbound) AS outbound,
        count(*) FILTER (WHERE NOT t.inbound AND t.outcome = 'answered') AS outbound_answered
    FROM (
        -- Every ring of an operator's phone for an inbound call. Seconds
        -- between two times are rounded to the millisecond they were kept
        -- to.
        SELECT date(c.started_at, 'localtime') AS day, f.operator, 1 AS inbound, f.outcome,
            CASE WHEN f.outcome = 'answered' AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value = 'answer') THEN
                round((julianday(f.answered_at) - julianday(coalesce(f.ringing_at, f.dialed_at))) * 86400, 3) END AS ring_seconds,
            CASE WHEN f.outcome = 'answered' AND NOT EXISTS (SELECT 1 FROM json_each(c.gaps) WHERE value IN ('answer', 'end')) THEN
                round((julianday(f.ended_at) - julianday(f.answered_at)) * 86400, 3) END AS talk_seconds
        FROM calls c JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id
        WHERE c.direction = 'inbound' AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        UNION ALL
        -- Every outbound call, for the operator who placed it.
        SELECT date(c.started_at, 'localtime'), c.answered_by, 0, c.status, NULL, NULL
        FROM calls c
        WHERE c.direction = 'outbound' AND c.answered_by IS NOT NULL
    ) t
    GROUP BY t.day, t.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;

CREATE VIEW missed_without_callback AS
SELECT date(c.started_at, 'localtime') AS day, c.started_at, c.call_id, c.caller_e164 AS number, c.caller,
    c.caller_kind, c.did, c.source, c.campaign, c.status, c.offered_to, c.ring_seconds, c.wait_seconds, c.pbx
FROM calls c
WHERE c.direction = 'inbound' AND c.status IN ('missed', 'abandoned', 'failed') AND c.caller_e164 IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM calls r
        WHERE r.caller_e164 = c.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
            AND r.started_at > c.started_at)
    AND NOT EXISTS (SELECT 1 FROM callback_closures x
        WHERE x.number = c.caller_e164 AND x.last_missed_at >= c.started_at);

CREATE VIEW report_calls AS
SELECT date(x.started_at, 'localtime') AS day,
    strftime('%Y-%m-%dT%H:%M:%fZ', date(x.started_at, 'localtime'), 'utc') AS day_start,
    x.started_at, x.call_id, x.caller_e164 AS number, x.caller_kind, x.did, x.source, x.campaign, x.status,
    x.wait_seconds, n.purpose, x.called_back_at,
    round((julianday(x.called_back_at) - julianday(x.started_at)) * 86400, 3) AS callback_seconds, x.pbx
FROM (
    SELECT c.*, CASE WHEN c.status IN ('missed', 'abandoned') AND c.caller_e164 IS NOT NULL THEN
        (SELECT min(r.started_at) FROM calls r
         WHERE r.caller_e164 = c.caller_e164 AND r.direction = 'outbound' AND r.started_at > c.started_at) END AS called_back_at
    FROM calls c
    WHERE c.direction = 'inbound'
) x
LEFT JOIN call_notes n ON n.pbx = x.pbx AND n.call_id = x.call_id;

CREATE VIEW operator_calls AS
SELECT s.day, strftime('%Y-%m-%dT%H:%M:%fZ', s.day, 'utc') AS day_start, s.operator, o.name AS operator_name,
    s.calls, s.calls_answered, s.taken_by_colleague, s.calls - s.calls_answered - s.taken_by_colleague AS missed_calls,
    round(CAST(s.calls_answered AS REAL) / nullif(s.calls - s.taken_by_colleague, 0), 4) AS answer_rate
FROM (
    SELECT x.day, x.operator, count(*) AS calls, sum(x.answered) AS calls_answered,
        sum(NOT x.answered AND x.elsewhere) AS taken_by_colleague
    FROM (
        SELECT date(c.started_at, 'localtime') AS day, f.operator, max(f.outcome = 'answered') AS answered,
            min(f.outcome = 'answered_elsewhere') AS elsewhere
        FROM calls c JOIN offers f ON f.pbx = c.pbx AND f.call_id = c.call_id
        WHERE c.direction = 'inbound' AND (f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL)
        GROUP BY f.operator, f.pbx, f.call_id
    ) x
    GROUP BY x.day, x.operator
) s
LEFT JOIN operators o ON o.extension = s.operator;

-- The roll-ups' triggers of 0015 (they went with the tables), finding an
-- offer's call by (pbx, call_id). The roll-ups hold no call IDs: every
-- call so far is the one box's, and their figures stand.
CREATE TRIGGER rollup_calls_insert AFTER INSERT ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(NEW.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(NEW.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_calls_update AFTER UPDATE ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(OLD.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(OLD.started_at, 1, 13) || ':00:00.000Z');
    INSERT INTO rollup_stale (hour) SELECT substr(NEW.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(NEW.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_calls_delete AFTER DELETE ON calls BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(OLD.started_at, 1, 13) || ':00:00.000Z' WHERE NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(OLD.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_insert AFTER INSERT ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE c.pbx = NEW.pbx AND c.call_id = NEW.call_id
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_update AFTER UPDATE ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE (c.pbx = OLD.pbx AND c.call_id = OLD.call_id OR c.pbx = NEW.pbx AND c.call_id = NEW.call_id)
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_offers_delete AFTER DELETE ON offers BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c WHERE c.pbx = OLD.pbx AND c.call_id = OLD.call_id
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;
