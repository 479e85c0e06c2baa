//! The legacy default groups (docs/okta.md and docs/entra.md, "Legacy
//! default groups"): an org created with `--legacy-groups` gets them, and
//! the IdP may not push a group with one of their names while the org
//! keeps them.

/// The legacy default groups, with the roles each grants (docs/console.md,
/// "Roles").
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
