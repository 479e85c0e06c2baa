-- The first schema: orgs, tokens, users and groups (their SCIM documents,
-- with the columns filters and uniqueness need), memberships and the
-- per-org change log.

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    scim_api INTEGER NOT NULL,
    aup INTEGER NOT NULL,
    sup INTEGER NOT NULL,
    legacy_groups INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created TEXT NOT NULL,
    last_used TEXT,
    revoked TEXT
);
CREATE INDEX tokens_org ON tokens(org_id);
CREATE TABLE users (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_id ON users(org_id, id);
CREATE UNIQUE INDEX users_name ON users(org_id, name_key);
CREATE INDEX users_display ON users(org_id, display_key);
CREATE INDEX users_external ON users(org_id, external_id);
CREATE TABLE groups (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_id ON groups(org_id, id);
CREATE UNIQUE INDEX groups_name ON groups(org_id, name_key);
CREATE INDEX groups_display ON groups(org_id, display_key);
CREATE INDEX groups_external ON groups(org_id, external_id);
CREATE TABLE memberships (
    group_pos INTEGER NOT NULL REFERENCES groups(position) ON DELETE CASCADE,
    user_pos INTEGER NOT NULL REFERENCES users(position) ON DELETE CASCADE,
    PRIMARY KEY (group_pos, user_pos)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships(user_pos, group_pos);
CREATE TABLE changes (
    org_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
) WITHOUT ROWID;
