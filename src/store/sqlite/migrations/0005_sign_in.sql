-- SAML SSO: IdP configurations, used assertion ids, sessions and login
-- links; just-in-time accounts per org. (saml_requests is no longer
-- written: a sign-in request travels in a signed cookie since version 6.)

ALTER TABLE orgs ADD COLUMN jit INTEGER NOT NULL DEFAULT 1;
CREATE TABLE saml_settings (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    idp_entity_id TEXT NOT NULL,
    sso_url TEXT NOT NULL,
    -- base64 DER, one per line
    certificates TEXT NOT NULL,
    require_signed_assertion INTEGER NOT NULL,
    allow_idp_initiated INTEGER NOT NULL,
    metadata_url TEXT,
    updated TEXT NOT NULL
);
CREATE TABLE saml_requests (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE saml_assertions (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE sessions (
    hash BLOB PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT,
    subject TEXT NOT NULL,
    method TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    ended TEXT
);
CREATE TABLE login_links (
    hash BLOB PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);
-- Expired rows are pruned by time; sessions are listed by org.
CREATE INDEX saml_requests_expires ON saml_requests (expires);
CREATE INDEX saml_assertions_expires ON saml_assertions (expires);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_org ON sessions (org_id, created);
CREATE INDEX login_links_expires ON login_links (expires);
