-- As PostgreSQL's 0013_client_visits.sql, in SQLite's types: the date is
-- text (2006-01-02).
ALTER TABLE clients ADD COLUMN last_visit_on TEXT;
ALTER TABLE clients ADD COLUMN visit_count INTEGER CHECK (visit_count >= 0);
