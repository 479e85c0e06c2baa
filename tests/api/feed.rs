use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

struct Feed {
    app: TestApp,
    token: String,
    alice: String,
}

fn feed() -> Feed {
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let alice = app.create_user("alice@example.com").id();
    app.create_group("g", &[&alice]);
    let token = create_cluster(&app.db, "c1", "g");
    Feed { app, token, alice }
}

fn poll(f: &Feed, after: i64, wait: u64) -> Value {
    let url = f.app.url(&format!(
        "/api/v1/orgs/acme/clusters/c1/changes?after={after}&wait={wait}"
    ));
    f.app
        .send(f.app.client.get(url).bearer_auth(&f.token))
        .expect(200)
        .body
}

#[test]
fn the_feed_answers_when_the_directory_changes() {
    let f = Arc::new(feed());
    let first = poll(&f, 0, 0);
    let seq = first["seq"].as_i64().unwrap();
    assert!(
        seq >= 3 && first["changes"].as_array().unwrap().len() as i64 == seq,
        "{first}"
    );
    assert_eq!(
        first["changes"].as_array().unwrap().last().unwrap()["subject"],
        "Cluster"
    );
    // Nothing new: an empty answer when the wait runs out.
    let idle = poll(&f, seq, 1);
    assert_eq!(idle["changes"], json!([]));
    assert_eq!(idle["seq"], seq);
    // Many agents wait at once; one write answers them all.
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (poll(&f, seq, 30), started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    f.app
        .patch(
            &format!("/Users/{}", f.alice),
            json!([{"op": "replace", "path": "displayName", "value": "Alice"}]),
        )
        .expect(200);
    for w in waiters {
        let (answer, took) = w.join().unwrap();
        assert_eq!(answer["seq"], seq + 1);
        assert_eq!(answer["changes"][0]["subject"], "User");
        assert_eq!(answer["changes"][0]["id"], f.alice.as_str());
        assert!(
            took < Duration::from_secs(25),
            "a waiter was not woken by the write ({took:?})"
        );
    }
    // A position ahead of the server: resync from a snapshot.
    assert_eq!(poll(&f, seq + 1000, 0)["resync"], true);
}

#[test]
fn the_snapshot_carries_maps_accounts_and_its_position() {
    let f = feed();
    let url = f.app.url("/api/v1/orgs/acme/clusters/c1/snapshot");
    let snap = f
        .app
        .send(f.app.client.get(&url).bearer_auth(&f.token))
        .expect(200)
        .body;
    assert_eq!(snap["seq"], poll(&f, 0, 0)["seq"]);
    assert_eq!(
        snap["maps"]["passwd"],
        "alice:x:100000:100000:alice@example.com:/home/alice:/bin/bash\n"
    );
    assert_eq!(
        snap["accounts"],
        json!([{"name": "g", "gid": 200000, "members": ["alice"], "adopt": false}])
    );
    assert_eq!(snap["removal_approved_through"], Value::Null);
    // A change to the cluster's group list is in the feed and the snapshot.
    let before = snap["seq"].as_i64().unwrap();
    cli_ok(
        &f.app.db,
        &["cluster", "set-groups", "acme", "c1", "--groups", ""],
    );
    let after = poll(&f, before, 5);
    assert_eq!(after["changes"][0]["subject"], "Cluster");
    let snap = f
        .app
        .send(f.app.client.get(&url).bearer_auth(&f.token))
        .expect(200)
        .body;
    assert_eq!(snap["accounts"], json!([]));
    assert_eq!(snap["maps"]["passwd"], "");
    // The org's SCIM token is not the cluster's; no token is 401.
    f.app
        .send(f.app.client.get(&url).bearer_auth(&f.app.token))
        .expect_api_error(403, "forbidden");
    let r = f
        .app
        .send(f.app.client.get(&url))
        .expect_api_error(401, "unauthenticated");
    assert!(r.header("www-authenticate").is_some());
    f.app
        .send(
            f.app
                .client
                .get(f.app.url("/api/v1/orgs/acme/clusters/c1/changes?after=x"))
                .bearer_auth(&f.token),
        )
        .expect_api_error(400, "invalid_value");
}
