-- Unseen periods: each time the daemon did not see a box's events (an ARI
-- connection down, the daemon stopped, killed or crashed), from the last
-- moment it saw everything to the resync that followed (screenpop.
-- UnseenPeriod). A call that began and ended within one is not in calls:
-- Asterisk keeps no list of past calls. pbx is the box, '' for the single
-- box; (pbx, from_at) is the period's key, so a spool replayed, or a
-- restart from the same saved state, keeps it once.
CREATE TABLE unseen_periods (
    pbx                text NOT NULL DEFAULT '',
    from_at            timestamptz NOT NULL,
    to_at              timestamptz NOT NULL CHECK (to_at > from_at),
    reason             text NOT NULL,
    calls_in_progress  integer NOT NULL DEFAULT 0,
    calls_ended_unseen integer NOT NULL DEFAULT 0,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pbx, from_at)
);

-- The periods that overlap a range: to_at > from of the range.
CREATE INDEX unseen_periods_to ON unseen_periods (to_at);
