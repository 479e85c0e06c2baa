-- What each node's agent last reported on its feed requests: the change it
-- has applied, its last error, whether it manages Slurm (roster cluster
-- status, roster explain, the console). Written in batches by the server.
CREATE TABLE node_reports (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    node TEXT NOT NULL,
    applied_seq INTEGER NOT NULL,
    error TEXT,
    slurm INTEGER NOT NULL DEFAULT 0,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (cluster_id, node)
) WITHOUT ROWID;

-- Each person's last SAML sign-in and last refusal (of a verified
-- response: the subject is the IdP's), for roster explain.
CREATE TABLE sign_in_outcomes (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    subject_key TEXT NOT NULL,
    ok INTEGER NOT NULL,
    at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (org_id, subject_key, ok)
) WITHOUT ROWID;

-- Existing Slurm accounts an import (roster import --slurm) handed to a
-- cluster's agent, which marks them as Roster's and manages them.
CREATE TABLE slurm_adoptions (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    account TEXT NOT NULL,
    PRIMARY KEY (cluster_id, account)
);

-- A mass removal an operator approved once for all of a cluster's nodes
-- (roster cluster approve-removal): plans up to this change may remove
-- more than the agents' guard allows.
CREATE TABLE removal_approvals (
    cluster_id TEXT PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    through_seq BIGINT NOT NULL
);
