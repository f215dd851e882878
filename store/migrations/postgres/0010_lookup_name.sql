-- caller_name is what the carrier sent; lookup_name the name screenpop put
-- on the caller ID from its client base (Stasis mode), '' if none.
ALTER TABLE calls ADD COLUMN lookup_name text NOT NULL DEFAULT '';
