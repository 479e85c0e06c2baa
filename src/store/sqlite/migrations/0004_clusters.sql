-- Clusters, the groups each provisions, and their read-only tokens.

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
) WITHOUT ROWID;
ALTER TABLE tokens ADD COLUMN cluster_id TEXT REFERENCES clusters(id) ON DELETE CASCADE;
