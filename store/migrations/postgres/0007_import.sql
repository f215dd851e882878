-- What a client base export brings besides names, phones and cars: the
-- client's number in the dealership's CRM, by which a later import finds
-- the client again whatever their numbers, and their e-mail address.
ALTER TABLE clients
    ADD COLUMN external_id text CHECK (external_id <> ''),
    ADD COLUMN email       text CHECK (email <> '');
CREATE UNIQUE INDEX clients_external_id ON clients (external_id);
