-- Unseen periods: each time the daemon did not see a box's events (an ARI
-- connection down, the daemon stopped, killed or crashed), from the last
-- moment it saw everything to the resync that followed (screenpop.
-- UnseenPeriod). A call that began and ended within one is not in calls:
-- Asterisk keeps no list of past calls. pbx is the box, '' for the single
-- box; (pbx, from_at) is the period's key, so a spool replayed, or a
-- restart from the same saved state, keeps it once. Times are text as in
-- calls (RFC 3339, UTC, milliseconds): text order is time order.
CREATE TABLE unseen_periods (
    pbx                TEXT NOT NULL DEFAULT '',
    from_at            TEXT NOT NULL,
    to_at              TEXT NOT NULL CHECK (to_at > from_at),
    reason             TEXT NOT NULL,
    calls_in_progress  INTEGER NOT NULL DEFAULT 0,
    calls_ended_unseen INTEGER NOT NULL DEFAULT 0,
    recorded_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (pbx, from_at)
);

CREATE INDEX unseen_periods_to ON unseen_periods (to_at);
