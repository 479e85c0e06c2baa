//! Deltas, held to the snapshot they stand for: real agents follow a
//! random sequence of SCIM writes through the change feed and `226`
//! deltas, and at every checkpoint each one's caches are byte for byte
//! those a fresh agent makes from the whole snapshot.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::*;

const WRITES: usize = 1000;
const CHECK_EVERY: usize = 100;
const MAPS: [&str; 4] = ["passwd", "group", "shadow", "sshkey"];

/// The entity tag of the cluster's snapshot now: an agent that has
/// applied everything up to now has it.
fn current_etag(app: &TestApp, token: &str) -> String {
    let url = app.url("/api/v1/orgs/acme/clusters/c1/snapshot");
    app.send(app.client.get(url).bearer_auth(token))
        .expect(200)
        .header("etag")
        .unwrap()
}

/// One random write, as an IdP (or an administrator) would make it.
fn random_write(
    app: &TestApp,
    rng: &mut StdRng,
    users: &mut Vec<String>,
    groups: &[String],
    keys: &[String],
    n: usize,
) {
    let pick = |rng: &mut StdRng, v: &[String]| v[rng.random_range(0..v.len())].clone();
    let choice = if users.len() < 8 {
        0
    } else {
        rng.random_range(0..20)
    };
    match choice {
        0..=3 => {
            let id = app
                .post(
                    "/Users",
                    &json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("user{n}@example.com"),
                        "displayName": format!("User {n}"),
                        "active": true,
                    }),
                )
                .expect(201)
                .id();
            // Most new people join a group at once, as a push would do.
            if rng.random_bool(0.8) {
                let g = pick(rng, groups);
                app.patch(
                    &format!("/Groups/{g}"),
                    json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
                )
                .expect(200);
            }
            users.push(id);
        }
        4..=6 => {
            let u = pick(rng, users);
            app.patch(
                &format!("/Users/{u}"),
                json!([{"op": "replace", "path": "displayName", "value": format!("Renamed {n}")}]),
            )
            .expect(200);
        }
        7 | 8 => {
            let u = pick(rng, users);
            app.patch(
                &format!("/Users/{u}"),
                json!([{"op": "replace", "path": "active", "value": rng.random_bool(0.5)}]),
            )
            .expect(200);
        }
        9..=12 => {
            let (u, g) = (pick(rng, users), pick(rng, groups));
            app.patch(
                &format!("/Groups/{g}"),
                json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
            )
            .expect(200);
        }
        13..=15 => {
            let (u, g) = (pick(rng, users), pick(rng, groups));
            app.patch(
                &format!("/Groups/{g}"),
                json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]),
            )
            .expect(200);
        }
        16 | 17 => {
            let u = pick(rng, users);
            let some: Vec<&String> = keys.iter().filter(|_| rng.random_bool(0.5)).collect();
            app.send(
                app.client
                    .put(app.url(&format!("/api/v1/orgs/acme/users/{u}/ssh-keys")))
                    .bearer_auth(&app.token)
                    .json(&json!({ "keys": some })),
            )
            .expect(200);
        }
        _ => {
            let i = rng.random_range(0..users.len());
            let u = users.swap_remove(i);
            app.delete(&format!("/Users/{u}")).expect(204);
        }
    }
}

#[test]
fn deltas_applied_in_order_make_the_caches_a_fresh_snapshot_makes() {
    let seed: u64 = std::env::var("ROSTER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (ROSTER_TEST_SEED={seed} repeats this run)");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = sup_app();
    let keydir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..3)
        .map(|i| keygen(keydir.path(), "ed25519", None, &format!("k{i}")))
        .collect();
    // Two groups in the cluster, one outside it.
    let groups: Vec<String> = ["gpu", "cpu", "outside"]
        .iter()
        .map(|g| app.create_group(g, &[]).id())
        .collect();
    let token = create_cluster(&app.db, "c1", "gpu,cpu");
    let nodes: Vec<AgentNode> = (0..3).map(|_| AgentNode::new(&app.db, "c1")).collect();
    // Removals come in bursts here; the guard is for a broken IdP.
    let _running: Vec<RunningAgent> = nodes
        .iter()
        .map(|n| n.spawn(&app, "c1", "30", &["--allow-mass-removal"]))
        .collect();
    let mut users = Vec::new();
    for n in 1..=WRITES {
        random_write(&app, &mut rng, &mut users, &groups, &keys, n);
        if n % CHECK_EVERY != 0 {
            continue;
        }
        let etag = current_etag(&app, &token);
        // A server started now builds the maps from the store, not from
        // its model kept up to date change by change.
        let replica = app.replica();
        let fresh = AgentNode::new(&app.db, "c1");
        fresh.once(&replica, "c1", &[]);
        for (i, node) in nodes.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(60);
            while node.state()["snapshot_etag"] != etag.as_str() {
                assert!(
                    Instant::now() < deadline,
                    "node {i} stayed at {} (now {etag}); its log:\n{}",
                    node.state()["snapshot_etag"],
                    std::fs::read_to_string(node.dir.path().join("agent.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            for map in MAPS {
                assert_eq!(
                    node.cache(map),
                    fresh.cache(map),
                    "seed {seed}, after {n} writes: node {i}'s {map} differs from a fresh snapshot's"
                );
            }
        }
    }
    // The caches were made by deltas, not by refetching the snapshot.
    let mut total = 0;
    for (i, node) in nodes.iter().enumerate() {
        let s: Value = node.state();
        let (deltas, snapshots) = (
            s["deltas_applied"].as_u64().unwrap(),
            s["snapshots_applied"].as_u64().unwrap(),
        );
        eprintln!("node {i}: {deltas} deltas, {snapshots} whole snapshots");
        // Every delta the server made applied and matched its tags.
        assert_eq!(
            s["delta_mismatches"].as_u64(),
            Some(0),
            "seed {seed}: node {i} was sent a delta that did not make the maps; its log:\n{}",
            std::fs::read_to_string(node.dir.path().join("agent.log")).unwrap_or_default()
        );

        assert!(
            deltas >= 20,
            "node {i}: {deltas} deltas, {snapshots} snapshots"
        );
        total += deltas;
    }
    assert!(total >= 100, "{total} deltas in all");
    assert!(
        !nodes[0].cache("passwd").is_empty(),
        "the cluster has people"
    );
}
