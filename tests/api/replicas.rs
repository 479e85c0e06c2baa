//! Two `roster serve` processes on one database, as replicas behind a load
//! balancer run: on PostgreSQL (the deployment docs/postgres.md describes)
//! and on SQLite (two processes sharing one file) alike.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

#[test]
fn a_write_on_one_replica_wakes_an_agent_waiting_on_another() {
    let a = sup_app();
    let alice = a.create_user("alice@example.com").id();
    a.create_group("gpu", &[&alice]);
    let token = create_cluster(&a.db, "c1", "gpu");
    let b = a.replica();
    let changes = |app: &TestApp, after: i64, wait: u64| -> Value {
        let url = app.url(&format!(
            "/api/v1/orgs/acme/clusters/c1/changes?after={after}&wait={wait}"
        ));
        app.send(app.client.get(url).bearer_auth(&token))
            .expect(200)
            .body
    };
    let seq = changes(&b, 0, 0)["seq"].as_i64().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            (changes(&b, seq, 30), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        let bob = a.create_user("bob@example.com").id();
        let group = a.get_with("/Groups", &[("filter", "displayName eq \"gpu\"")]);
        let gid = group.ids()[0].clone();
        a.patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
        )
        .expect(200);
        let (answer, waited) = waiter.join().unwrap();
        let ids: Vec<&str> = answer["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert!(ids.contains(&gid.as_str()), "{answer}");
        eprintln!("replica wake: waited {waited:?} (300 ms before the write)");
        // Woken by the write, not by the end of the 30 s wait.
        assert!(waited < Duration::from_secs(15), "waited {waited:?}");
    });
}

#[test]
fn replicas_writing_at_once_give_every_identity_once() {
    let a = sup_app();
    let b = a.replica();
    let created: Vec<(String, i64, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..16)
            .map(|t| {
                let app = if t % 2 == 0 { &a } else { &b };
                s.spawn(move || {
                    (0..12)
                        .map(|i| {
                            let r = app
                                .post(
                                    "/Users",
                                    &json!({"schemas": [USER], "userName": format!("r{t}-{i}@example.com")}),
                                )
                                .expect(201);
                            (
                                r.id(),
                                r.body[CW]["sunkPosixUserId"].as_i64().unwrap(),
                                r.body[CW]["sunkPosixUsername"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(created.len(), 192);
    let uids: HashSet<i64> = created.iter().map(|c| c.1).collect();
    let names: HashSet<&str> = created.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(uids.len(), 192, "a UID was given twice");
    assert_eq!(names.len(), 192, "a POSIX name was given twice");
    // Every acknowledged create is there, seen from either replica.
    for app in [&a, &b] {
        assert_eq!(app.get_with("/Users", &[("count", "0")]).total(), 192);
    }
    let seen: HashSet<String> = created.iter().map(|c| c.0.clone()).collect();
    assert_eq!(seen.len(), 192);
}
