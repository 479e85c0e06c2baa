-- Names an org reserves (one per line), and what `serve` records for the
-- command line (its public URL) and the sign-in ticket key.

ALTER TABLE orgs ADD COLUMN reserved_names TEXT NOT NULL DEFAULT '';
CREATE TABLE server_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
