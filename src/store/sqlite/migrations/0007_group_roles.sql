-- The roles a group grants its members in the console (design.md:
-- default-deny; a user has the roles of the groups it is in). Kept apart
-- from the group's SCIM document, which the IdP replaces at will.
CREATE TABLE group_roles (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (org_id, group_id, role)
);
