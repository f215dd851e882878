-- The client base the pop looks callers up in, and the operators who may
-- open the pop page. The tables, columns and indexes are PostgreSQL's (see
-- its 0002_clients.sql); the types are SQLite's: times are text as in
-- calls, dates are text (2006-01-02), booleans 0 or 1.

CREATE TABLE employees (
    employee_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (name <> ''),
    extension   TEXT CHECK (extension <> '')
);
CREATE UNIQUE INDEX employees_extension ON employees (extension);
CREATE UNIQUE INDEX employees_name_without_extension ON employees (name) WHERE extension IS NULL;

CREATE TABLE clients (
    client_id      INTEGER PRIMARY KEY,
    last_name      TEXT NOT NULL,
    first_name     TEXT NOT NULL,
    patronymic     TEXT NOT NULL,
    conflict_level INTEGER NOT NULL DEFAULT 0 CHECK (conflict_level BETWEEN 0 AND 3),
    csi            REAL CHECK (csi BETWEEN 1 AND 10),
    manager_id     INTEGER REFERENCES employees (employee_id),
    lead           INTEGER NOT NULL DEFAULT 0 CHECK (lead IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE client_phones (
    client_id INTEGER NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    e164      TEXT NOT NULL CHECK (e164 GLOB '+[1-9]*' AND substr(e164, 2) NOT GLOB '*[^0-9]*' AND length(e164) BETWEEN 8 AND 16),
    seq       INTEGER NOT NULL,
    PRIMARY KEY (client_id, e164)
) WITHOUT ROWID; -- the table is its primary key, and the index on e164 holds client_id
CREATE INDEX client_phones_e164 ON client_phones (e164);

CREATE TABLE cars (
    car_id           INTEGER PRIMARY KEY,
    client_id        INTEGER NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    make             TEXT NOT NULL,
    model            TEXT NOT NULL,
    year             INTEGER,
    plate            TEXT NOT NULL,
    vin              TEXT NOT NULL,
    warranty_end     TEXT,
    insurance_end    TEXT,
    next_service_due TEXT
);
CREATE INDEX cars_client_id ON cars (client_id);

CREATE TABLE visits (
    visit_id  INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    date      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('service', 'repair', 'warranty', 'body', 'sale')),
    amount    NUMERIC NOT NULL, -- roubles, to the kopeck
    employee  TEXT NOT NULL
);
CREATE INDEX visits_client_id_date ON visits (client_id, date DESC);

CREATE TABLE contacts (
    contact_id INTEGER PRIMARY KEY,
    client_id  INTEGER NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    channel    TEXT NOT NULL,
    employee   TEXT NOT NULL,
    summary    TEXT NOT NULL
);
CREATE INDEX contacts_client_id_at ON contacts (client_id, at DESC);

CREATE TABLE complaints (
    complaint_id INTEGER PRIMARY KEY,
    client_id    INTEGER NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT,
    summary      TEXT NOT NULL
);
CREATE INDEX complaints_client_id ON complaints (client_id);
CREATE INDEX complaints_open ON complaints (client_id) WHERE closed_at IS NULL;

CREATE TABLE operators (
    operator_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (name <> ''),
    extension   TEXT NOT NULL UNIQUE CHECK (extension <> ''),
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
