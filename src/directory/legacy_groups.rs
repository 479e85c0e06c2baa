//! The legacy default groups (design.md, seed 000): an org created with
//! `--legacy-groups` gets them, and the IdP may not push a group with one
//! of their names while the org keeps them.

/// The legacy default groups (design.md), with the roles each grants.
pub const LEGACY_GROUPS: [(&str, &[&str]); 5] = [
    (
        "admin",
        &[
            "IAM Admin",
            "CKS Admin",
            "Object Storage Admin",
            "Access Token Admin",
            "Access Request Approver",
        ],
    ),
    (
        "write",
        &["CKS Admin", "Object Storage Admin", "Access Token Admin"],
    ),
    ("read", &["IAM Viewer", "CKS Viewer", "Access Token Viewer"]),
    ("metrics", &["Observability Viewer"]),
    ("billing_viewer", &["Billing Viewer"]),
];
