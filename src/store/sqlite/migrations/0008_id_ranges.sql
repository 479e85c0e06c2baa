-- Each org's UID and GID ranges (roster org set --uid-range/--gid-range),
-- and whether it may use the blocks reserved by default.
ALTER TABLE orgs ADD COLUMN uid_min INTEGER NOT NULL DEFAULT 100000;
ALTER TABLE orgs ADD COLUMN uid_max INTEGER NOT NULL DEFAULT 199999;
ALTER TABLE orgs ADD COLUMN gid_min INTEGER NOT NULL DEFAULT 200000;
ALTER TABLE orgs ADD COLUMN gid_max INTEGER NOT NULL DEFAULT 299999;
ALTER TABLE orgs ADD COLUMN allow_reserved_ids INTEGER NOT NULL DEFAULT 0;
