-- The distinct callers and the call backs from the roll-ups: see the
-- PostgreSQL migration of the same number, whose columns these are in
-- SQLite's words (numbers and new_numbers: JSON arrays of the numbers'
-- IDs; callback_delays: a JSON array of seconds). The store counts them
-- when it counts a stale hour again (store/rollups_sqlite.go): every hour
-- with a call is marked stale here, and the first read counts them.

CREATE TABLE rollup_number_ids (
    id     INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE
);

ALTER TABLE rollup_calls ADD COLUMN numbers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rollup_calls ADD COLUMN new_numbers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rollup_calls ADD COLUMN missed_numbered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_calls ADD COLUMN callback_delays TEXT NOT NULL DEFAULT '[]';

-- A call out marks stale the hours of the missed calls of its number it
-- may be the first call back to: those before it, and at or after the
-- number's last other call out before it (a replacing record: the old
-- one's, and the new one's).
CREATE TRIGGER rollup_callbacks_insert AFTER INSERT ON calls
WHEN NEW.direction = 'outbound' AND NEW.caller_e164 IS NOT NULL BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(m.started_at, 1, 13) || ':00:00.000Z' FROM calls m
    WHERE m.caller_e164 = NEW.caller_e164 AND m.direction = 'inbound' AND m.status IN ('missed', 'abandoned')
        AND m.started_at < NEW.started_at
        AND m.started_at >= coalesce((SELECT max(o.started_at) FROM calls o
            WHERE o.caller_e164 = NEW.caller_e164 AND o.direction = 'outbound' AND o.started_at < NEW.started_at
                AND NOT (o.pbx = NEW.pbx AND o.call_id = NEW.call_id)), '')
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(m.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_callbacks_update_old AFTER UPDATE ON calls
WHEN OLD.direction = 'outbound' AND OLD.caller_e164 IS NOT NULL BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(m.started_at, 1, 13) || ':00:00.000Z' FROM calls m
    WHERE m.caller_e164 = OLD.caller_e164 AND m.direction = 'inbound' AND m.status IN ('missed', 'abandoned')
        AND m.started_at < OLD.started_at
        AND m.started_at >= coalesce((SELECT max(o.started_at) FROM calls o
            WHERE o.caller_e164 = OLD.caller_e164 AND o.direction = 'outbound' AND o.started_at < OLD.started_at
                AND NOT (o.pbx = OLD.pbx AND o.call_id = OLD.call_id)), '')
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(m.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_callbacks_update_new AFTER UPDATE ON calls
WHEN NEW.direction = 'outbound' AND NEW.caller_e164 IS NOT NULL BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(m.started_at, 1, 13) || ':00:00.000Z' FROM calls m
    WHERE m.caller_e164 = NEW.caller_e164 AND m.direction = 'inbound' AND m.status IN ('missed', 'abandoned')
        AND m.started_at < NEW.started_at
        AND m.started_at >= coalesce((SELECT max(o.started_at) FROM calls o
            WHERE o.caller_e164 = NEW.caller_e164 AND o.direction = 'outbound' AND o.started_at < NEW.started_at
                AND NOT (o.pbx = NEW.pbx AND o.call_id = NEW.call_id)), '')
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(m.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_callbacks_delete AFTER DELETE ON calls
WHEN OLD.direction = 'outbound' AND OLD.caller_e164 IS NOT NULL BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(m.started_at, 1, 13) || ':00:00.000Z' FROM calls m
    WHERE m.caller_e164 = OLD.caller_e164 AND m.direction = 'inbound' AND m.status IN ('missed', 'abandoned')
        AND m.started_at < OLD.started_at
        AND m.started_at >= coalesce((SELECT max(o.started_at) FROM calls o
            WHERE o.caller_e164 = OLD.caller_e164 AND o.direction = 'outbound' AND o.started_at < OLD.started_at
                AND NOT (o.pbx = OLD.pbx AND o.call_id = OLD.call_id)), '')
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(m.started_at, 1, 13) || ':00:00.000Z');
END;

INSERT INTO rollup_stale (hour)
SELECT DISTINCT substr(started_at, 1, 13) || ':00:00.000Z' FROM calls WHERE true
ON CONFLICT DO NOTHING;
