//! Property tests for POSIX identity allocation through the real directory
//! and SQLite store: whatever the sequence of creates, overrides and
//! deletes, live users never share a UID or username, no UID or username
//! is ever given to a second user, reserved ranges are never used, and an
//! override that collides is refused without changing anything.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::{Value, json};

use roster::directory::Directory;
use roster::directory::DirectoryError;
use roster::directory::model::Principal;
use roster::directory::orgs::SettingsChange;
use roster::directory::posix_rules::is_reserved;
use roster::scim::schema::{COREWEAVE_USER_SCHEMA, ResourceType, USER_SCHEMA};

#[derive(Debug, Clone)]
enum Step {
    Create {
        local: String,
        uid: Option<i64>,
        name: Option<String>,
    },
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => ("[a-c]{1,2}", prop::option::weighted(0.3, prop_oneof![100_000i64..100_012, 60_000i64..60_003, 1_000_000i64..1_000_002]), prop::option::weighted(0.2, "[a-c]{1,2}"))
            .prop_map(|(local, uid, name)| Step::Create { local, uid, name }),
        2 => (0usize..20).prop_map(Step::Delete),
    ]
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = roster::store::open(&format!("sqlite://{}", dir.path().join("p.db").display())).unwrap();
        let d = Directory::new(store);
        d.create_org("p", false).await.unwrap();
        let org = d.set_org(&roster::directory::model::Actor::cli("test", "localhost"),"p", SettingsChange { sup: Some(true), ..Default::default() }).await.unwrap();
        let p = Principal::admin(org);
        let mut live: Vec<String> = Vec::new();
        let mut ever_uid: HashMap<i64, String> = HashMap::new();
        let mut ever_name: HashMap<String, String> = HashMap::new();
        for (n, s) in steps.into_iter().enumerate() {
            match s {
                Step::Create { local, uid, name } => {
                    let mut ext = serde_json::Map::new();
                    if let Some(u) = uid {
                        ext.insert("sunkPosixUserId".into(), json!(u));
                    }
                    if let Some(nm) = &name {
                        ext.insert("sunkPosixUsername".into(), json!(nm));
                    }
                    let body = json!({"schemas": [USER_SCHEMA], "userName": format!("{local}@d{n}.example"), COREWEAVE_USER_SCHEMA: ext});
                    match d.create_resource(&p, ResourceType::User, body).await {
                        Ok(v) => {
                            let a = v.posix.clone().unwrap();
                            let uid_v = a.uid.unwrap();
                            prop_assert!(!is_reserved(uid_v), "reserved uid {}", uid_v);
                            if uid.is_none() {
                                prop_assert!((100_000..=199_999).contains(&uid_v));
                            }
                            prop_assert!(ever_uid.insert(uid_v, v.stored.id.clone()).is_none(), "uid {} given twice", uid_v);
                            prop_assert!(ever_name.insert(a.name.clone(), v.stored.id.clone()).is_none(), "name {} given twice", a.name);
                            live.push(v.stored.id);
                        }
                        Err(DirectoryError::InvalidValue(_)) => {
                            prop_assert!(uid.is_some_and(is_reserved), "refused a valid override");
                        }
                        Err(DirectoryError::Conflict(_)) => {
                            let uid_taken = uid.is_some_and(|u| ever_uid.contains_key(&u));
                            let name_taken = name.as_ref().is_some_and(|nm| ever_name.contains_key(nm));
                            prop_assert!(uid_taken || name_taken, "a conflict without a collision");
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
                    }
                }
                Step::Delete(i) => {
                    if !live.is_empty() {
                        let id = live.remove(i % live.len());
                        d.delete_resource(&p, ResourceType::User, &id, None).await.unwrap();
                    }
                }
            }
        }
        // What the directory shows agrees: live users, distinct identities.
        let params = roster::scim::list::RawParams { count: Some("1000".into()), ..Default::default() }.parse(0).unwrap();
        let page = d.list_resources(&p, vec![ResourceType::User], params, false).await.unwrap();
        prop_assert_eq!(page.items.len(), live.len());
        let uids: HashSet<Value> = page.items.iter().map(|v| Value::from(v.posix.as_ref().and_then(|a| a.uid))).collect();
        prop_assert_eq!(uids.len(), live.len());
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn identities_are_unique_never_reused_and_never_reserved(steps in prop::collection::vec(step(), 1..30)) {
        run(steps)?;
    }
}
