-- What a client base export says of a client's visits, when it has no
-- visit history to import: the last visit's date and how many visits
-- there were. The pop takes the later of this date and the last visit in
-- visits, and the larger of the two counts, so that an imported client
-- is a customer (or a lost one) rather than a potential one.
ALTER TABLE clients
    ADD COLUMN last_visit_on date,
    ADD COLUMN visit_count   integer CHECK (visit_count >= 0);
