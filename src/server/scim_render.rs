//! Directory resources in their SCIM representation (RFC 7643): the stored
//! document with what is computed at read time (`members` and `groups`
//! with their `$ref` URLs, the POSIX identity in the CoreWeave extension)
//! and `meta`. The SCIM handlers, the admin API and the command line's
//! `--json` print resources this one way.

use serde_json::{Map, Value};

use crate::directory::model::PosixAccount;
use crate::directory::model::ResourceView;
use crate::directory::posix_rules;
use crate::scim::resource::{self, Document, Meta};
use crate::scim::schema::{COREWEAVE_GROUP_SCHEMA, COREWEAVE_USER_SCHEMA, ResourceType};

/// The full SCIM representation.
pub fn resource(v: &ResourceView, base_url: &str) -> Value {
    let meta = Meta {
        id: v.stored.id.clone(),
        created: v.stored.created.clone(),
        last_modified: v.stored.modified.clone(),
        version: v.stored.version,
    };
    resource::render(v.stored.rtype, &document(v, base_url), &meta, base_url)
}

/// The document with its computed attributes (`members`, `groups`).
fn document(v: &ResourceView, base_url: &str) -> Document {
    let mut doc = v.stored.doc.clone();
    // RFC 7643 §4.2: members carry value, $ref and type; §4.1.2: a
    // user's groups also carry display.
    let members = v.members.iter().flatten().map(|m| {
        reference(
            base_url,
            "Users",
            &m.user_id,
            m.posix_name.as_deref(),
            "User",
        )
    });
    put_list(&mut doc, "members", members.collect());
    let groups = v
        .groups
        .iter()
        .flatten()
        .map(|g| reference(base_url, "Groups", &g.group_id, Some(&g.display), "direct"));
    put_list(&mut doc, "groups", groups.collect());
    if let Some(a) = &v.posix {
        merge_posix(&mut doc, a);
    }
    doc
}

/// The assigned identity, shown in the CoreWeave extension (what
/// CoreWeave's nsscache fork reads with its `scim_path_*` settings).
fn merge_posix(doc: &mut Document, a: &PosixAccount) {
    let (schema, fields): (&str, Vec<(&str, Value)>) = match a.rtype {
        ResourceType::User => (
            COREWEAVE_USER_SCHEMA,
            vec![
                ("sunkPosixUserId", Value::from(a.uid.unwrap_or(a.gid))),
                ("sunkPosixGroupId", Value::from(a.gid)),
                ("sunkPosixUsername", Value::String(a.name.clone())),
                (
                    "sunkPreferredHomeDirectory",
                    Value::String(
                        a.home
                            .clone()
                            .unwrap_or_else(|| format!("{}{}", posix_rules::HOME_PREFIX, a.name)),
                    ),
                ),
                (
                    "sunkLoginShell",
                    Value::String(
                        a.shell
                            .clone()
                            .unwrap_or_else(|| posix_rules::DEFAULT_SHELL.into()),
                    ),
                ),
            ],
        ),
        ResourceType::Group => (
            COREWEAVE_GROUP_SCHEMA,
            vec![
                ("sunkPosixGroupName", Value::String(a.name.clone())),
                ("sunkPosixGroupId", Value::from(a.gid)),
            ],
        ),
    };
    let ext = doc
        .entry(schema.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = ext {
        for (k, v) in fields {
            m.insert(k.to_string(), v);
        }
    }
}

/// One entry of `members` or `groups`.
fn reference(base_url: &str, endpoint: &str, id: &str, display: Option<&str>, kind: &str) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(id.to_string()));
    o.insert(
        "$ref".into(),
        Value::String(format!("{base_url}/{endpoint}/{id}")),
    );
    if let Some(d) = display {
        o.insert("display".into(), Value::String(d.to_string()));
    }
    o.insert("type".into(), Value::String(kind.to_string()));
    Value::Object(o)
}

fn put_list(doc: &mut Document, key: &str, list: Vec<Value>) {
    if !list.is_empty() {
        doc.insert(key.into(), Value::Array(list));
    }
}
