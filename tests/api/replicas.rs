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
        // 64 clients, half on each replica, three creates each.
        let workers: Vec<_> = (0..64)
            .map(|t| {
                let app = if t % 2 == 0 { &a } else { &b };
                s.spawn(move || {
                    (0..3)
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

/// A throwaway PostgreSQL of the test's own, which it may stop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::Builder::new()
            .prefix("roster-pg-outage")
            .tempdir_in("/tmp")
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Self::script(&[
            "start",
            &dir.path().join("pg").display().to_string(),
            &port.to_string(),
        ]);
        OwnPostgres { dir, url }
    }
    fn script(args: &[&str]) -> String {
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/postgres/server.sh"
        ))
        .args(args)
        .output()
        .unwrap();
        assert!(out.status.success(), "server.sh {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    fn data(&self) -> String {
        self.dir.path().join("pg").display().to_string()
    }
    fn stop(&self) {
        Self::script(&["stop", &self.data()]);
    }
    fn resume(&self) {
        Self::script(&["resume", &self.data()]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/postgres/server.sh"
        ))
        .args(["stop", &self.data()])
        .output();
    }
}

#[test]
fn while_the_database_is_down_requests_are_refused_at_once_and_served_after() {
    if !on_postgres() {
        // SQLite is a file of the server's own: it does not go down apart
        // from the process.
        return;
    }
    let pg = OwnPostgres::start();
    let app = TestApp::start_on_database(&pg.url);
    let replica = app.replica();
    let ada = app.create_user("ada@example.com").id();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let statuses = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        // Load on both replicas all along: reads and writes.
        for (t, server) in [&app, &replica, &app, &replica].into_iter().enumerate() {
            let (stop, statuses, ada) = (&stop, &statuses, &ada);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = if i % 2 == 0 {
                        server.get(&format!("/Users/{ada}"))
                    } else {
                        server.post("/Users", &json!({"schemas": [USER], "userName": format!("load{t}-{i}@example.com")}))
                    };
                    statuses.lock().unwrap().push(r.status);
                    i += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        pg.stop();
        for server in [&app, &replica] {
            for _ in 0..3 {
                let started = Instant::now();
                let r = server.get(&format!("/Users/{ada}"));
                assert_eq!(r.status, 503, "{}", r.body);
                assert_eq!(r.header("retry-after").as_deref(), Some("1"));
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "held {:?}",
                    started.elapsed()
                );
                let w = server.post(
                    "/Users",
                    &json!({"schemas": [USER], "userName": "lee@example.com"}),
                );
                assert_eq!(w.status, 503, "{}", w.body);
                assert_eq!(
                    server.send(server.client.get(server.url("/readyz"))).status,
                    503
                );
            }
        }
        pg.resume();
        for server in [&app, &replica] {
            let started = Instant::now();
            while server.get(&format!("/Users/{ada}")).status != 200 {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "not serving again"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // Under load, through the outage: answers or 503s, never a 500.
    let statuses = statuses.into_inner().unwrap();
    let errors: Vec<String> = [&app, &replica]
        .iter()
        .flat_map(|a| a.log.lock().unwrap().clone())
        .filter(|l| l.contains("ERROR"))
        .collect();
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 503)),
        "{statuses:?}\nthe servers' errors: {errors:#?}"
    );
    assert!(statuses.contains(&503) && statuses.contains(&201));
    // Nothing acknowledged was lost, and writes work again on both. (A
    // write whose commit reached the database as it went down may be
    // stored though answered 503: its retry then finds it, 409.)
    let acknowledged = statuses.iter().filter(|s| **s == 201).count() as u64;
    app.create_user("lee@example.com");
    replica.create_user("kim@example.com");
    let stored = replica.get_with("/Users", &[("count", "0")]).total();
    assert!(
        stored >= acknowledged + 3,
        "{stored} stored, {acknowledged} acknowledged"
    );
}

#[test]
fn a_replica_killed_under_load_loses_no_acknowledged_write_and_the_other_serves_on() {
    let a = sup_app();
    let b = a.replica();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (app, acknowledged, stop) =
                (if t % 2 == 0 { &a } else { &b }, &acknowledged, &stop);
            s.spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) || i == 200 {
                        break;
                    }
                    let body =
                        json!({"schemas": [USER], "userName": format!("k{t}-{i}@example.com")});
                    // Writes to the killed replica fail from then on; only
                    // what was acknowledged counts.
                    let sent = app
                        .auth(app.client.post(app.scim_url("/Users")))
                        .header("content-type", "application/scim+json")
                        .body(body.to_string())
                        .send();
                    match sent {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let v: Value = r.json().unwrap();
                            acknowledged
                                .lock()
                                .unwrap()
                                .push(v["id"].as_str().unwrap().to_string());
                        }
                        Ok(r) => panic!("{} from a live replica", r.status()),
                        Err(_) => break,
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(700));
        a.kill_now(); // SIGKILL, mid-write
        std::thread::sleep(Duration::from_millis(700));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged.len() > 16,
        "only {} writes",
        acknowledged.len()
    );
    // The survivor serves every acknowledged write, and writes on.
    for id in &acknowledged {
        b.get(&format!("/Users/{id}")).expect(200);
    }
    b.create_user("after@example.com");
    let total = b.get_with("/Users", &[("count", "0")]).total();
    assert!(total as usize > acknowledged.len(), "{total} stored");
}

/// PostgreSQL breaks a deadlock by failing one side (SQLSTATE 40P01): the
/// server runs its side again, and the client never hears of it.
#[test]
fn a_write_that_loses_a_deadlock_is_run_again_inside_the_server() {
    if !on_postgres() {
        // One writer at a time: SQLite has no deadlocks to lose.
        return;
    }
    let app = sup_app();
    let ada = app.create_user("ada@example.com").id();
    let connect = || {
        postgres::Client::connect(&app.db, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test database: {e}"))
    };
    let mut other = connect();
    let mut watch = connect();
    let deadlocks = |c: &mut postgres::Client| -> i64 {
        c.query_one(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = deadlocks(&mut watch);
    // This session never runs the deadlock check itself: Roster's side is
    // the one PostgreSQL fails.
    other.batch_execute("SET deadlock_timeout = '60s'").unwrap();
    let mut tx = other.transaction().unwrap();
    // Another writer holds Ada's row...
    tx.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&ada])
        .unwrap();
    std::thread::scope(|s| {
        let patch = s.spawn(|| {
            app.patch(
                &format!("/Users/{ada}"),
                json!([{"op": "replace", "path": "displayName", "value": "Ada L."}]),
            )
        });
        // ...until Roster's write, which holds the org's row (its change
        // counter), waits for it...
        let started = Instant::now();
        loop {
            let waiting: i64 = watch
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "Roster never waited"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // ...and this writer then wants the org's row: neither can go on.
        tx.execute(
            "SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE",
            &[&app.org_id],
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        tx.rollback().unwrap();
        let r = patch.join().unwrap().expect(200);
        assert_eq!(r.body["displayName"], "Ada L.");
    });
    assert_eq!(deadlocks(&mut watch), before + 1, "no deadlock happened");
    assert_eq!(
        app.get(&format!("/Users/{ada}")).body["displayName"],
        "Ada L."
    );
    assert!(
        app.wait_for_log("asked for the write again"),
        "the server did not say it ran the write again"
    );
}
