use std::process::Command;

use serde_json::json;

use crate::helpers::*;

struct Cluster {
    app: TestApp,
    token: String,
    keys: Vec<String>,
    ids: Vec<String>,
    _dir: tempfile::TempDir,
}

/// alice (two keys), bob (one key), dave (deactivated) in "GPU Users";
/// carol in no group; cluster "c1" provisions "GPU Users".
fn cluster() -> Cluster {
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let dir = tempfile::tempdir().unwrap();
    let keys = vec![
        keygen(dir.path(), "ed25519", None, "a1"),
        keygen(dir.path(), "ed25519", None, "a2"),
        keygen(dir.path(), "ed25519", None, "b1"),
    ];
    let mk = |name: &str, display: &str, keys: Vec<String>, active: bool| {
        app.post("/Users", &json!({"schemas": [USER], "userName": format!("{name}@example.com"), "displayName": display, "active": active, CW: {"sunkSshKeys": keys}})).expect(201).id()
    };
    let alice = mk(
        "alice",
        "Alice Liddell",
        vec![keys[0].clone(), keys[1].clone()],
        true,
    );
    let bob = mk("bob", "Bob: the builder", vec![keys[2].clone()], true);
    let carol = mk("carol", "Carol", vec![], true);
    let dave = mk("dave", "Dave", vec![], false);
    app.create_group("GPU Users", &[&alice, &bob, &dave]);
    let out = cli_json(
        &app.db,
        &["cluster", "create", "acme", "c1", "--groups", "gpu_users"],
    );
    assert_eq!(out["groups"][0]["displayName"], "GPU Users");
    let token = cluster_token(&app.db, "c1");
    Cluster {
        app,
        token,
        keys,
        ids: vec![alice, bob, carol, dave],
        _dir: dir,
    }
}

/// GET the passwd map with one extra request header.
fn conditional(c: &Cluster, header: &str, value: &str) -> reqwest::blocking::Response {
    c.app
        .client
        .get(c.app.url("/nss/acme/c1/passwd"))
        .bearer_auth(&c.token)
        .header(header, value)
        .send()
        .unwrap()
}

fn fetch(c: &Cluster, map: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = c
        .app
        .client
        .get(c.app.url(&format!("/nss/acme/c1/{map}")))
        .bearer_auth(&c.token)
        .send()
        .unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().unwrap())
}

#[test]
fn maps_hold_the_active_members_of_the_clusters_groups() {
    let c = cluster();
    let (status, headers, passwd) = fetch(&c, "passwd");
    assert_eq!(status, 200);
    assert_eq!(
        passwd,
        "alice:x:100000:100000:Alice Liddell:/home/alice:/bin/bash\nbob:x:100001:100001:Bob  the builder:/home/bob:/bin/bash\n"
    );
    assert!(headers.get("etag").is_some() && headers.get("last-modified").is_some());
    assert_eq!(
        fetch(&c, "group").2,
        "alice:x:100000:\nbob:x:100001:\ngpu_users:x:200000:alice,bob\n"
    );
    assert_eq!(fetch(&c, "shadow").2, "alice:*:::::::\nbob:*:::::::\n");
    assert_eq!(
        fetch(&c, "sshkey").2,
        format!(
            "alice:['{}', '{}']\nbob:['{}']\n",
            c.keys[0], c.keys[1], c.keys[2]
        )
    );
    assert_eq!(fetch(&c, "hosts").0, 404);

    // Basic auth with the token as password, as libcurl sends URL credentials.
    let r = c
        .app
        .client
        .get(c.app.url("/nss/acme/c1/passwd"))
        .basic_auth("gpu", Some(&c.token))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The org's SCIM token is not a cluster token; no token at all is 401.
    let r = c
        .app
        .client
        .get(c.app.url("/nss/acme/c1/passwd"))
        .bearer_auth(&c.app.token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .app
        .client
        .get(c.app.url("/nss/acme/c1/passwd"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The cluster token reads SCIM (its cluster's members: not carol, who
    // is in no group) and writes nothing.
    let r = c
        .app
        .send(
            c.app
                .client
                .get(c.app.scim_url("/Users"))
                .bearer_auth(&c.token),
        )
        .expect(200);
    assert_eq!(r.total(), 3);
    c.app
        .send(
            c.app
                .client
                .post(c.app.scim_url("/Users"))
                .bearer_auth(&c.token)
                .body(json!({"schemas": [USER], "userName": "x"}).to_string()),
        )
        .expect_error(403, None);
}

#[test]
fn conditional_requests_and_gzip() {
    let c = cluster();
    let (_, headers, _) = fetch(&c, "passwd");
    let etag = headers.get("etag").unwrap().to_str().unwrap().to_string();
    let lm = headers
        .get("last-modified")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let r = conditional(&c, "if-none-match", &etag);
    assert_eq!(r.status().as_u16(), 304);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = conditional(&c, "if-modified-since", &lm);
    assert_eq!(r.status().as_u16(), 304);
    let r = conditional(&c, "accept-encoding", "gzip");
    assert_eq!(
        r.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    // A change: bob deactivated leaves the maps, and both validators change.
    c.app
        .patch(
            &format!("/Users/{}", c.ids[1]),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .expect(200);
    let r = conditional(&c, "if-modified-since", &lm);
    assert_eq!(r.status().as_u16(), 200);
    let (new_etag, new_lm) = (
        r.headers()
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string(),
        r.headers()
            .get("last-modified")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string(),
    );
    assert_ne!(new_etag, etag);
    assert_ne!(new_lm, lm);
    assert!(!r.text().unwrap().contains("bob"));
    assert_eq!(
        fetch(&c, "group").2,
        "alice:x:100000:\ngpu_users:x:200000:alice\n"
    );
    // Removing the group from the cluster empties the maps.
    cli_ok(
        &c.app.db,
        &["cluster", "set-groups", "acme", "c1", "--groups", ""],
    );
    assert_eq!(fetch(&c, "passwd").2, "");
}

#[test]
fn libnss_cache_resolves_the_maps_and_authorized_keys_reads_them() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let (upper, work) = (dir.path().join("upper"), dir.path().join("work"));
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    for map in ["passwd", "group", "shadow", "sshkey"] {
        std::fs::write(upper.join(format!("{map}.cache")), fetch(&c, map).2).unwrap();
    }
    // A private mount namespace with the caches overlaid on /etc: nothing
    // of the machine's /etc changes.
    let script = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && getent -s cache passwd alice && getent -s cache group gpu_users && getent -s cache passwd 100001",
        upper.display(),
        work.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare is needed for this test");
    assert!(
        out.status.success(),
        "getent failed (is libnss-cache installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alice:x:100000:100000:Alice Liddell:/home/alice:/bin/bash\ngpu_users:x:200000:alice,bob\nbob:x:100001:100001:Bob  the builder:/home/bob:/bin/bash\n"
    );
    assert!(
        !std::path::Path::new("/etc/passwd.cache").exists()
            || std::fs::read_to_string("/etc/passwd.cache")
                .map(|t| !t.contains("Alice Liddell"))
                .unwrap_or(true)
    );

    let cache = upper.join("sshkey.cache");
    let keys = cli_ok(
        &c.app.db,
        &[
            "authorized-keys",
            "alice",
            "--cache",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(keys, format!("{}\n{}", c.keys[0], c.keys[1]));
    assert_eq!(
        cli_ok(
            &c.app.db,
            &["authorized-keys", "ali", "--cache", cache.to_str().unwrap()]
        ),
        ""
    );
    assert_eq!(
        cli_ok(
            &c.app.db,
            &["authorized-keys", "nobody", "--cache", "/nonexistent"]
        ),
        ""
    );
}

#[test]
fn scim_reads_for_the_nsscache_fork() {
    let c = cluster();
    let get = |query: &[(&str, &str)]| {
        c.app
            .send(
                c.app
                    .client
                    .get(c.app.scim_url("/Users"))
                    .query(query)
                    .bearer_auth(&c.token),
            )
            .expect(200)
    };
    // The fork's example: scim_users_parameters = groups=...&filter=active eq "true"
    let r = get(&[("groups", "gpu_users"), ("filter", "active eq \"true\"")]);
    let mut names: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u[CW]["sunkPosixUsername"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["alice", "bob"]);
    assert_eq!(
        get(&[("groups", "GPU Users,nosuch")]).total(),
        3,
        "display names work; dave is listed without the active filter"
    );
    assert_eq!(get(&[("groups", "nosuch")]).total(), 0);
    // Cursor paging with the same parameters.
    let first = get(&[("groups", "gpu_users"), ("cursor", ""), ("count", "2")]);
    assert_eq!(first.ids().len(), 2);
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    let second = get(&[("groups", "gpu_users"), ("cursor", &next), ("count", "2")]);
    assert_eq!(second.ids().len(), 1);
    assert!(second.body.get("nextCursor").is_none());
    // Each user carries its identity; each group its POSIX name and GID,
    // and members their usernames.
    let g = c
        .app
        .send(
            c.app
                .client
                .get(c.app.scim_url("/Groups"))
                .bearer_auth(&c.token),
        )
        .expect(200);
    let group = &g.body["Resources"][0];
    assert_eq!(
        group["urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup"]["sunkPosixGroupName"],
        "gpu_users"
    );
    let mut members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display"].as_str().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, vec!["alice", "bob", "dave"]);
}
