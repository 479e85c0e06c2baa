//! The store contract: what every implementation of the storage interface
//! (`directory::store`) must do, tested through the trait alone. It runs
//! against SQLite, and against PostgreSQL when the test command runs one
//! (`ROSTER_TEST_POSTGRES_URL`, see `stores()`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

use roster::directory::model::{
    Change, ChangeKind, LedgerKind, Org, OrgSettings, ResourceType, Session, StoredResource,
    Subject,
};
use roster::directory::query::{Cond, Query, Window};
use roster::directory::store::{ReadTx, Store, StoreError, StoreResult, WriteJob, WriteTx};
use serde_json::json;

#[path = "postgres/scratch.rs"]
mod scratch;

/// What keeps a store's database alive: a directory, or a scratch
/// PostgreSQL database.
type Guard = Box<dyn std::any::Any>;

/// A fresh store of every kind this build has: SQLite in a directory of
/// its own, and PostgreSQL in a database of its own when the test command
/// runs one (`ROSTER_TEST_POSTGRES_URL`).
fn stores() -> Vec<(Guard, Arc<dyn Store>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let mut out: Vec<(Guard, Arc<dyn Store>)> =
        vec![(Box::new(dir), roster::store::open(&url).unwrap())];
    if let Some(db) = scratch::ScratchDb::create() {
        let store = roster::store::open(&db.url).unwrap();
        out.push((Box::new(db), store));
    }
    out
}

/// Runs `f` as one write job and returns its result once committed (or
/// its error, with nothing of it kept).
fn write<R: Send + 'static>(
    store: &dyn Store,
    mut f: impl FnMut(&mut dyn WriteTx) -> StoreResult<R> + Send + 'static,
) -> StoreResult<R> {
    let (tx, rx) = channel();
    let last = Arc::new(Mutex::new(None));
    let kept = last.clone();
    store
        .write(WriteJob {
            run: Box::new(move |w: &mut dyn WriteTx| {
                let out = f(w);
                let keep = out.is_ok();
                *last.lock().unwrap() = Some(out);
                keep
            }),
            deliver: Box::new(move |commit| {
                let out = kept.lock().unwrap().take().unwrap();
                let _ = tx.send(commit.and(out));
            }),
        })
        .unwrap();
    rx.recv().unwrap()
}

fn read<R>(store: &dyn Store, f: impl FnOnce(&mut dyn ReadTx) -> StoreResult<R>) -> R {
    let mut f = Some(f);
    let mut out = None;
    store
        .read(&mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })
        .unwrap();
    out.unwrap()
}

fn org(name: &str) -> Org {
    Org {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        created: "2026-01-01T00:00:00.000000Z".into(),
        settings: OrgSettings::default(),
        reserved_names: vec!["gpuadmin".into()],
    }
}

/// Stores a new org named `name`; its id.
fn new_org(store: &dyn Store, name: &str) -> String {
    let o = org(name);
    let id = o.id.clone();
    write(store, move |w| w.insert_org(&o)).unwrap();
    id
}

fn user(name: &str) -> StoredResource {
    StoredResource {
        position: 0,
        rtype: ResourceType::User,
        id: uuid::Uuid::new_v4().to_string(),
        name_key: name.to_lowercase(),
        display_key: None,
        external_id: None,
        doc: json!({"userName": name}).as_object().unwrap().clone(),
        created: "2026-01-01T00:00:00.000000Z".into(),
        modified: "2026-01-01T00:00:00.000000Z".into(),
        version: 1,
    }
}

fn group(name: &str) -> StoredResource {
    StoredResource {
        rtype: ResourceType::Group,
        doc: json!({"displayName": name}).as_object().unwrap().clone(),
        ..user(name)
    }
}

fn change(id: &str) -> Change {
    Change {
        subject: Subject::Resource(ResourceType::User),
        resource_id: id.into(),
        kind: ChangeKind::Updated,
        at: "2026-01-01T00:00:00.000000Z".into(),
    }
}

#[test]
fn orgs_are_found_by_id_and_by_name_and_names_are_unique() {
    for (_dir, store) in stores() {
        let o = org("Acme");
        let o2 = o.clone();
        write(store.as_ref(), move |w| w.insert_org(&o2)).unwrap();
        let by_name = read(store.as_ref(), |r| r.org("ACME")).unwrap();
        assert_eq!(by_name, o, "the org round-trips, found case-insensitively");
        assert_eq!(read(store.as_ref(), |r| r.org(&o.id)).unwrap().name, "Acme");
        let twin = org("acme");
        let refused = write(store.as_ref(), move |w| w.insert_org(&twin));
        assert!(matches!(refused, Err(StoreError::Unique(_))), "{refused:?}");
        assert_eq!(read(store.as_ref(), |r| r.orgs()).len(), 1);
    }
}

#[test]
fn a_failed_job_keeps_nothing_and_its_neighbours_commit() {
    for (_dir, store) in stores() {
        let org_id = new_org(store.as_ref(), "acme");
        // Jobs queued together share a transaction; each is its own
        // savepoint.
        let (tx, rx) = channel();
        for (i, fail) in [(0, false), (1, true), (2, false)] {
            let (org_id, tx) = (org_id.clone(), tx.clone());
            store
                .write(WriteJob {
                    run: Box::new(move |w: &mut dyn WriteTx| {
                        let inserted = w.insert_resource(&org_id, &user(&format!("u{i}")));
                        inserted.is_ok() && !fail
                    }),
                    deliver: Box::new(move |c| {
                        let _ = tx.send((i, c.is_ok()));
                    }),
                })
                .unwrap();
        }
        for _ in 0..3 {
            rx.recv().unwrap();
        }
        // (On PostgreSQL the jobs run side by side, in any order.)
        let mut names: Vec<String> = read(store.as_ref(), |r| {
            let q = Query {
                cond: Cond::True,
                sort: None,
                window: Window::Offset {
                    offset: 0,
                    limit: 10,
                },
            };
            r.search(&org_id, ResourceType::User, &q)
        })
        .1
        .into_iter()
        .map(|r| r.name_key)
        .collect();
        names.sort();
        assert_eq!(names, vec!["u0", "u2"]);
    }
}

#[test]
fn names_are_unique_per_org_and_memberships_go_with_their_user() {
    for (_dir, store) in stores() {
        let (a_id, b_id) = (new_org(store.as_ref(), "a"), new_org(store.as_ref(), "b"));
        let ada = user("ada");
        let gpu = group("gpu");
        let (ada_id, gpu_id) = (ada.id.clone(), gpu.id.clone());
        let (o, ada2, gpu2) = (a_id.clone(), ada.clone(), gpu.clone());
        write(store.as_ref(), move |w| {
            w.insert_resource(&o, &ada2)?;
            w.insert_resource(&o, &gpu2)?;
            w.add_members(&o, &gpu2.id, &[ada2.id.as_str()])
        })
        .unwrap();
        // The same name in the same org: refused; in another org: fine.
        let o = a_id.clone();
        let twin = write(store.as_ref(), move |w| w.insert_resource(&o, &user("ada")));
        assert!(matches!(twin, Err(StoreError::Unique(_))), "{twin:?}");
        let o = b_id.clone();
        write(store.as_ref(), move |w| w.insert_resource(&o, &user("ada"))).unwrap();
        // Found by name; other orgs see nothing of it.
        let found = read(store.as_ref(), |r| {
            r.resource_by_name(&a_id, ResourceType::User, "ada")
        });
        assert_eq!(found.map(|r| r.id), Some(ada_id.clone()));
        assert!(
            read(store.as_ref(), |r| r.resource(
                &b_id,
                ResourceType::User,
                &ada_id
            ))
            .is_none()
        );
        let groups = read(store.as_ref(), |r| r.groups_of(&a_id, &[ada_id.as_str()]));
        assert_eq!(groups[&ada_id][0].group_id, gpu_id);
        // Deleting the user removes its memberships.
        let (o, id) = (a_id.clone(), ada_id.clone());
        assert!(
            write(store.as_ref(), move |w| w.delete_resource(
                &o,
                ResourceType::User,
                &id
            ))
            .unwrap()
        );
        let members = read(store.as_ref(), |r| r.members(&a_id, &[gpu_id.as_str()]));
        assert!(
            members.get(&gpu_id).is_none_or(Vec::is_empty),
            "{members:?}"
        );
    }
}

#[test]
fn the_change_log_counts_per_org_in_commit_order() {
    for (_dir, store) in stores() {
        let (a_id, b_id) = (new_org(store.as_ref(), "a"), new_org(store.as_ref(), "b"));
        let mut seqs = Vec::new();
        for i in 0..5 {
            let o = a_id.clone();
            seqs.push(
                write(store.as_ref(), move |w| {
                    w.append_change(&o, &change(&format!("r{i}")))
                })
                .unwrap(),
            );
        }
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        let o = b_id.clone();
        assert_eq!(
            write(store.as_ref(), move |w| w.append_change(&o, &change("x"))).unwrap(),
            1
        );
        // A rolled-back write spends no number.
        let o = a_id.clone();
        let failed: StoreResult<()> = write(store.as_ref(), move |w| {
            w.append_change(&o, &change("lost"))?;
            Err(StoreError::Backend("refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(read(store.as_ref(), |r| r.last_seq(&a_id)), 5);
        let after = read(store.as_ref(), |r| r.changes_after(&a_id, 2, 10));
        let ids: Vec<(i64, String)> = after.into_iter().map(|(n, c)| (n, c.resource_id)).collect();
        assert_eq!(
            ids,
            vec![(3, "r2".into()), (4, "r3".into()), (5, "r4".into())]
        );
        assert_eq!(
            read(store.as_ref(), |r| r.changes_after(&a_id, 0, 2)).len(),
            2
        );
    }
}

#[test]
fn an_identity_is_claimed_once_for_ever() {
    for (_dir, store) in stores() {
        let org_id = new_org(store.as_ref(), "a");
        let id = org_id.clone();
        write(store.as_ref(), move |w| {
            w.claim_posix(&id, LedgerKind::Uid, "100000", "owner-1")
        })
        .unwrap();
        let id = org_id.clone();
        let again = write(store.as_ref(), move |w| {
            w.claim_posix(&id, LedgerKind::Uid, "100000", "owner-2")
        });
        assert!(matches!(again, Err(StoreError::Unique(_))), "{again:?}");
        // Kinds are separate namespaces.
        let id = org_id.clone();
        write(store.as_ref(), move |w| {
            w.claim_posix(&id, LedgerKind::Gid, "100000", "owner-2")
        })
        .unwrap();
        let owner = read(store.as_ref(), |r| {
            r.posix_owner(&org_id, LedgerKind::Uid, "100000")
        });
        assert_eq!(owner.as_deref(), Some("owner-1"));
        assert!(
            read(store.as_ref(), |r| r.posix_owner(
                &org_id,
                LedgerKind::Name,
                "100000"
            ))
            .is_none()
        );
    }
}

#[test]
fn pages_are_stable_by_offset_and_by_position() {
    for (_dir, store) in stores() {
        let org_id = new_org(store.as_ref(), "a");
        for i in 0..7 {
            let id = org_id.clone();
            write(store.as_ref(), move |w| {
                w.insert_resource(&id, &user(&format!("u{i}")))
            })
            .unwrap();
        }
        let page = |window| {
            let q = Query {
                cond: Cond::True,
                sort: None,
                window,
            };
            let (total, rows) = read(store.as_ref(), |r| {
                r.search(&org_id, ResourceType::User, &q)
            });
            (
                total,
                rows.into_iter()
                    .map(|r| (r.position, r.name_key))
                    .collect::<Vec<_>>(),
            )
        };
        let (total, first) = page(Window::Offset {
            offset: 0,
            limit: 3,
        });
        assert_eq!(total, 7);
        assert_eq!(
            first.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["u0", "u1", "u2"]
        );
        let (_, by_offset) = page(Window::Offset {
            offset: 3,
            limit: 3,
        });
        let (_, by_position) = page(Window::After {
            position: first[2].0,
            limit: 3,
        });
        assert_eq!(by_offset, by_position);
        assert_eq!(
            by_offset
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>(),
            ["u3", "u4", "u5"]
        );
    }
}

#[test]
fn sessions_are_found_by_hash_until_ended() {
    for (_dir, store) in stores() {
        let org_id = new_org(store.as_ref(), "a");
        let s = Session {
            id: "s1".into(),
            org_id: org_id.clone(),
            user_id: None,
            subject: "bootstrap administrator".into(),
            method: "login-link".into(),
            created: "2026-01-01T00:00:00.000000Z".into(),
            expires: "2999-01-01T00:00:00.000000Z".into(),
        };
        let s2 = s.clone();
        write(store.as_ref(), move |w| w.insert_session(b"hash-1", &s2)).unwrap();
        assert_eq!(read(store.as_ref(), |r| r.session(b"hash-1")), Some(s));
        assert!(read(store.as_ref(), |r| r.session(b"hash-2")).is_none());
        assert_eq!(read(store.as_ref(), |r| r.sessions(&org_id)).len(), 1);
        let ended = write(store.as_ref(), |w| {
            w.end_session(b"hash-1", "2026-01-02T00:00:00.000000Z")
        })
        .unwrap();
        assert!(ended);
        assert!(read(store.as_ref(), |r| r.session(b"hash-1")).is_none());
        assert!(
            !write(store.as_ref(), |w| w
                .end_session(b"hash-1", "2026-01-02T00:00:00.000000Z"))
            .unwrap()
        );
    }
}
