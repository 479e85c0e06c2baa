-- The whole directory as of SQLite schema version 6, in PostgreSQL's
-- types. Times are RFC 3339 text in UTC with a fixed width, as on SQLite,
-- so that they compare as text; documents are `json` (kept as written, key
-- order included, so that both stores answer byte for byte alike).

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    scim_api BOOLEAN NOT NULL,
    aup BOOLEAN NOT NULL,
    sup BOOLEAN NOT NULL,
    legacy_groups BOOLEAN NOT NULL,
    jit BOOLEAN NOT NULL DEFAULT TRUE,
    reserved_names TEXT NOT NULL DEFAULT '',
    -- The per-org counters, updated in the writing transaction (which
    -- holds the org's row lock): change sequence order is commit order on
    -- every replica, and no UID or GID is handed out twice.
    last_seq BIGINT NOT NULL DEFAULT 0,
    next_uid BIGINT NOT NULL DEFAULT 100000,
    next_gid BIGINT NOT NULL DEFAULT 200000
);

CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    UNIQUE (org_id, name_key)
);
CREATE TABLE cluster_groups (
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    PRIMARY KEY (cluster_id, group_id)
);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash BYTEA NOT NULL UNIQUE,
    created TEXT NOT NULL,
    last_used TEXT,
    revoked TEXT,
    cluster_id TEXT REFERENCES clusters(id) ON DELETE CASCADE
);
CREATE INDEX tokens_org ON tokens(org_id);

CREATE TABLE users (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc JSON NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_id ON users(org_id, id);
CREATE UNIQUE INDEX users_name ON users(org_id, name_key);
CREATE INDEX users_display ON users(org_id, display_key);
CREATE INDEX users_external ON users(org_id, external_id);

CREATE TABLE groups (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc JSON NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_id ON groups(org_id, id);
CREATE UNIQUE INDEX groups_name ON groups(org_id, name_key);
CREATE INDEX groups_display ON groups(org_id, display_key);
CREATE INDEX groups_external ON groups(org_id, external_id);

CREATE TABLE memberships (
    group_pos BIGINT NOT NULL REFERENCES groups(position) ON DELETE CASCADE,
    user_pos BIGINT NOT NULL REFERENCES users(position) ON DELETE CASCADE,
    PRIMARY KEY (group_pos, user_pos)
);
CREATE INDEX memberships_user ON memberships(user_pos, group_pos);

CREATE TABLE changes (
    org_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE TABLE scim_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    token_name TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT,
    detail TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    body TEXT
);
CREATE INDEX scim_log_org ON scim_log(org_id, id);
CREATE INDEX scim_log_at ON scim_log(at);

CREATE TABLE posix_accounts (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    uid BIGINT,
    gid BIGINT NOT NULL,
    name TEXT NOT NULL,
    home TEXT,
    shell TEXT,
    PRIMARY KEY (org_id, resource_type, resource_id)
);
CREATE TABLE posix_ledger (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, value)
);

CREATE TABLE saml_settings (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    idp_entity_id TEXT NOT NULL,
    sso_url TEXT NOT NULL,
    -- base64 DER, one per line
    certificates TEXT NOT NULL,
    require_signed_assertion BOOLEAN NOT NULL,
    allow_idp_initiated BOOLEAN NOT NULL,
    metadata_url TEXT,
    updated TEXT NOT NULL
);
CREATE TABLE saml_assertions (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX saml_assertions_expires ON saml_assertions (expires);
CREATE TABLE sessions (
    hash BYTEA PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT,
    subject TEXT NOT NULL,
    method TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    ended TEXT
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_org ON sessions (org_id, created);
CREATE TABLE login_links (
    hash BYTEA PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX login_links_expires ON login_links (expires);

CREATE TABLE server_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Case folding as the directory does it: NFKC, then lower case.
CREATE FUNCTION roster_fold(t TEXT) RETURNS TEXT
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(normalize(t, NFKC));
