-- Where each audited change came from: the client's address (admin API,
-- console, SCIM) or the host of the CLI that made it.
ALTER TABLE audit_log ADD COLUMN origin TEXT NOT NULL DEFAULT '';
