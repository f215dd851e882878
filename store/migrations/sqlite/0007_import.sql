-- What a client base export brings besides names, phones and cars: the
-- client's number in the dealership's CRM and their e-mail address. As
-- PostgreSQL's 0007_import.sql, in SQLite's types.
ALTER TABLE clients ADD COLUMN external_id TEXT CHECK (external_id <> '');
ALTER TABLE clients ADD COLUMN email TEXT CHECK (email <> '');
CREATE UNIQUE INDEX clients_external_id ON clients (external_id);
