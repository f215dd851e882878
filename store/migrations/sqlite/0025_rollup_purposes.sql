-- The purposes of a report's calls from the roll-ups: see the PostgreSQL
-- migration of the same number, whose table and marks these are in
-- SQLite's words. The store counts the purposes when it counts a stale
-- hour (store/reports_sqlite.go): the hours with a noted call are marked
-- stale here, and the first report counts them.

CREATE TABLE rollup_purposes (
    hour    TEXT NOT NULL,
    source  TEXT NOT NULL,
    purpose TEXT NOT NULL,
    calls   INTEGER NOT NULL,
    PRIMARY KEY (hour, source, purpose)
) WITHOUT ROWID;

CREATE TRIGGER rollup_notes_insert AFTER INSERT ON call_notes BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c
    WHERE c.pbx = NEW.pbx AND c.call_id = NEW.call_id
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_notes_update AFTER UPDATE ON call_notes BEGIN
    INSERT INTO rollup_stale (hour) SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c
    WHERE (c.pbx = OLD.pbx AND c.call_id = OLD.call_id OR c.pbx = NEW.pbx AND c.call_id = NEW.call_id)
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

CREATE TRIGGER rollup_notes_delete AFTER DELETE ON call_notes BEGIN
    INSERT INTO rollup_stale (hour) SELECT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c
    WHERE c.pbx = OLD.pbx AND c.call_id = OLD.call_id
        AND NOT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = substr(c.started_at, 1, 13) || ':00:00.000Z');
END;

INSERT INTO rollup_stale (hour)
SELECT DISTINCT substr(c.started_at, 1, 13) || ':00:00.000Z' FROM calls c JOIN call_notes n ON n.pbx = c.pbx AND n.call_id = c.call_id
WHERE true
ON CONFLICT DO NOTHING;
