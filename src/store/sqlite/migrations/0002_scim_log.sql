-- The provisioning log: every SCIM request, per org.

CREATE TABLE scim_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    token_name TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT,
    detail TEXT,
    latency_ms REAL NOT NULL,
    body TEXT
);
CREATE INDEX scim_log_org ON scim_log(org_id, id);
CREATE INDEX scim_log_at ON scim_log(at);
