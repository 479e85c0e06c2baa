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

#[test]
fn the_snapshot_is_conditional_on_its_content_and_compressed() {
    let f = feed();
    let url = f.app.url("/api/v1/orgs/acme/clusters/c1/snapshot");
    // A client that leaves the body as it came.
    let raw = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap();
    let get = |etag: Option<&str>| {
        let mut r = raw
            .get(&url)
            .bearer_auth(&f.token)
            .header("accept-encoding", "gzip");
        if let Some(t) = etag {
            r = r.header("if-none-match", t);
        }
        r.send().unwrap()
    };
    let first = get(None);
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-encoding"], "gzip");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let seq: i64 = first.headers()["x-roster-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let gz = first.bytes().unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    let body: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(body["seq"], seq);

    // The same content: 304, no body, the position in X-Roster-Seq.
    let again = get(Some(&etag));
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["x-roster-seq"], seq.to_string().as_str());
    // A change elsewhere in the org moves the position, not the content.
    f.app.create_user("elsewhere@example.com");
    let moved = get(Some(&etag));
    assert_eq!(moved.status(), 304);
    assert_eq!(
        moved.headers()["x-roster-seq"],
        (seq + 1).to_string().as_str()
    );
    // A change to the cluster's content: 200 with a new tag.
    f.app
        .patch(
            &format!("/Users/{}", f.alice),
            json!([{"op": "replace", "path": "displayName", "value": "Alice L"}]),
        )
        .expect(200);
    let changed = get(Some(&etag));
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    // A real agent: a change that concerns the cluster's member but none
    // of what the node holds (her title) is answered 304; the agent moves
    // its position and rewrites nothing.
    let node = AgentNode::new(&f.app.db, "c1");
    node.once(&f.app, "c1", &[]);
    let passwd = node.dir.path().join("etc/passwd.cache");
    let written = std::fs::metadata(&passwd).unwrap().modified().unwrap();
    f.app
        .patch(
            &format!("/Users/{}", f.alice),
            json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
        )
        .expect(200);
    let out = node.run(&f.app, "c1", &[]);
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("snapshot unchanged (304)"), "{log}");
    assert_eq!(
        std::fs::metadata(&passwd).unwrap().modified().unwrap(),
        written
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(node.dir.path().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["seq"], poll(&f, 0, 0)["seq"], "the position moved");
}

#[test]
fn an_agent_that_has_a_version_is_sent_only_what_changed() {
    let f = feed();
    // Enough people that a whole snapshot is much larger than a delta.
    let ids: Vec<String> = (0..40)
        .map(|i| f.app.create_user(&format!("p{i}@example.com")).id())
        .collect();
    let mut members: Vec<&str> = ids.iter().map(String::as_str).collect();
    members.push(&f.alice);
    let big = f.app.create_group("big", &members).id();
    cli_ok(
        &f.app.db,
        &["cluster", "set-groups", "acme", "c1", "--groups", "g,big"],
    );
    let url = f.app.url("/api/v1/orgs/acme/clusters/c1/snapshot");
    let get = |etag: Option<&str>, delta: bool| {
        let mut r = f.app.client.get(&url).bearer_auth(&f.token);
        if let Some(t) = etag {
            r = r.header("if-none-match", t);
        }
        if delta {
            r = r.header("a-im", "roster-delta-2");
        }
        r.send().unwrap()
    };
    let first = get(None, false);
    let old_tag = first.headers()["etag"].to_str().unwrap().to_string();
    let old: Value = first.json().unwrap();

    // Same version: 304 even when a delta is accepted.
    assert_eq!(get(Some(&old_tag), true).status(), 304);

    // One person's name changes and one person leaves the big group.
    f.app
        .patch(
            &format!("/Users/{}", ids[3]),
            json!([{"op": "replace", "path": "displayName", "value": "Three"}]),
        )
        .expect(200);
    f.app
        .patch(
            &format!("/Groups/{big}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[7])}]),
        )
        .expect(200);
    let whole = get(Some(&old_tag), false);
    assert_eq!(whole.status(), 200, "no A-IM: the whole snapshot");
    let new_tag = whole.headers()["etag"].to_str().unwrap().to_string();
    let new: Value = whole.json().unwrap();

    let d = get(Some(&old_tag), true);
    assert_eq!(d.status(), 226);
    assert_eq!(d.headers()["im"], "roster-delta-2");
    assert_eq!(d.headers()["delta-base"], old_tag.as_str());
    assert_eq!(d.headers()["etag"], new_tag.as_str());
    let delta: roster::api_v1::SnapshotDelta = d.json().unwrap();
    assert_eq!(delta.seq, new["seq"].as_i64().unwrap());
    // What it carries: p3's new passwd line; p7's passwd, shadow and
    // private group gone; the big group's new line; its account.
    let p3 = &delta.maps[0];
    assert_eq!(p3.lines.len(), 1, "{p3:?}");
    assert!(p3.lines[0].contains(":Three:"), "{p3:?}");
    assert_eq!(p3.removed.len(), 1, "p7 left the cluster: {p3:?}");
    assert!(p3.removed[0].starts_with("p7:x:"), "{p3:?}");
    assert_eq!(delta.maps[2].removed, vec!["p7".to_string()]);
    assert_eq!(delta.accounts.len(), 1);
    assert_eq!(delta.accounts[0].name, "big");
    assert!(!delta.accounts[0].members.contains(&"p7".to_string()));
    // Applied to the old maps, it makes the new ones, byte for byte.
    for (i, map) in roster::nss_delta::MAPS.iter().enumerate() {
        let old_map = old["maps"][map].as_str().unwrap();
        let made = roster::nss_delta::apply(map, old_map, &delta.maps[i]).unwrap();
        assert_eq!(made, new["maps"][map].as_str().unwrap(), "{map}");
    }
    let delta_bytes = serde_json::to_vec(&delta).unwrap().len();
    let whole_bytes = serde_json::to_vec(&new).unwrap().len();
    assert!(
        delta_bytes * 4 < whole_bytes,
        "delta {delta_bytes} B vs snapshot {whole_bytes} B"
    );
    // Two versions back: the steps A→B and B→C make one delta, which
    // makes C from A (a key added then removed, p41, is only "removed").
    let p41 = f.app.create_user("p41@example.com").id();
    f.app
        .patch(
            &format!("/Groups/{big}"),
            json!([{"op": "add", "path": "members", "value": [{"value": p41}]}]),
        )
        .expect(200);
    let b_maps = get(None, false);
    assert_eq!(b_maps.status(), 200);
    f.app.delete(&format!("/Users/{p41}")).expect(204);
    f.app
        .patch(
            &format!("/Users/{}", ids[5]),
            json!([{"op": "replace", "path": "displayName", "value": "Five"}]),
        )
        .expect(200);
    let c: Value = get(None, false).json().unwrap();
    let d = get(Some(&old_tag), true);
    assert_eq!(d.status(), 226);
    let delta: roster::api_v1::SnapshotDelta = d.json().unwrap();
    for (i, map) in roster::nss_delta::MAPS.iter().enumerate() {
        let made =
            roster::nss_delta::apply(map, old["maps"][map].as_str().unwrap(), &delta.maps[i])
                .unwrap();
        assert_eq!(made, c["maps"][map].as_str().unwrap(), "{map}");
    }
    assert!(delta.maps[0].lines.iter().any(|l| l.contains(":Five:")));
    // A version the server does not know: the whole snapshot.
    assert_eq!(
        get(Some("\"000000000000000000000000\""), true).status(),
        200
    );
    // How the nodes were served shows in /metrics, by status.
    let metrics = metrics_text(&f);
    let served = |status: &str| {
        metrics
            .lines()
            .filter(|l| l.starts_with("roster_http_requests_total{"))
            .filter(|l| {
                l.contains("clusters/{cluster}/snapshot")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    assert_eq!(served("226"), 2, "{metrics}");
    assert_eq!(served("304"), 1, "{metrics}");
}

/// The server's /metrics, as text.
fn metrics_text(f: &Feed) -> String {
    f.app
        .client
        .get(f.app.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

/// `roster_feed_wakeups_total` from /metrics.
fn wakeups(f: &Feed) -> u64 {
    let text = metrics_text(f);
    text.lines()
        .find_map(|l| l.strip_prefix("roster_feed_wakeups_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no roster_feed_wakeups_total in {text}"))
}

#[test]
fn a_commit_wakes_only_the_long_polls_of_the_clusters_it_touches() {
    let f = Arc::new(feed());
    // A second cluster, with a group alice is not in.
    let bob = f.app.create_user("bob@example.com").id();
    f.app.create_group("other", &[&bob]);
    let token2 = create_cluster(&f.app.db, "c2", "other");
    let seq = poll(&f, 0, 0)["seq"].as_i64().unwrap();
    let before = wakeups(&f);
    // Five nodes of c1 wait.
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || poll(&f, seq, 20))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Changes that concern c2 only, and a user in no cluster: nobody of c1
    // is woken.
    f.app
        .patch(
            &format!("/Users/{bob}"),
            json!([{"op": "replace", "path": "displayName", "value": "Bob"}]),
        )
        .expect(200);
    f.app.create_user("nobody@example.com");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(wakeups(&f), before, "no c1 waiter was woken");
    assert!(waiters.iter().all(|w| !w.is_finished()));
    // A change to alice (in c1's group): each c1 waiter is woken once.
    f.app
        .patch(
            &format!("/Users/{}", f.alice),
            json!([{"op": "replace", "path": "displayName", "value": "Alice"}]),
        )
        .expect(200);
    for w in waiters {
        let answer = w.join().unwrap();
        assert_eq!(answer["changes"][0]["id"], f.alice.as_str());
    }
    assert_eq!(wakeups(&f), before + 5);
    // c2's own feed saw bob's change.
    let url = f.app.url(&format!(
        "/api/v1/orgs/acme/clusters/c2/changes?after={seq}&wait=0"
    ));
    let c2 = f
        .app
        .send(f.app.client.get(url).bearer_auth(&token2))
        .expect(200)
        .body;
    assert_eq!(c2["changes"][0]["id"], bob.as_str());
}
