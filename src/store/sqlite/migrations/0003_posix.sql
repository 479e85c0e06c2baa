-- POSIX identities (SUNK User Provisioning) and the ledger of every UID,
-- GID and name ever given, which are never given to anyone else.

ALTER TABLE orgs ADD COLUMN next_uid INTEGER NOT NULL DEFAULT 100000;
ALTER TABLE orgs ADD COLUMN next_gid INTEGER NOT NULL DEFAULT 200000;
CREATE TABLE posix_accounts (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    uid INTEGER,
    gid INTEGER NOT NULL,
    name TEXT NOT NULL,
    home TEXT,
    shell TEXT,
    PRIMARY KEY (org_id, resource_type, resource_id)
) WITHOUT ROWID;
CREATE TABLE posix_ledger (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, value)
) WITHOUT ROWID;
