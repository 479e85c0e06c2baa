-- The provisioning log keeps the IdP's entries and everyone else's
-- (anonymous and refused requests, a cluster's nodes) in shares of their
-- own, pruned apart, so that a flood of the latter cannot push out the
-- former. Entries from before were all kept as the IdP's.
ALTER TABLE scim_log ADD COLUMN from_idp INTEGER NOT NULL DEFAULT 1;
CREATE INDEX scim_log_share ON scim_log(org_id, from_idp, id);

-- Groups whose members only an administrator may change (roster group
-- set-roles --lock-members): the IdP's SCIM writes to their members are
-- refused, so that a group granting IAM Admin cannot be joined from the
-- IdP alone.
CREATE TABLE group_member_locks (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    PRIMARY KEY (org_id, group_id)
);
