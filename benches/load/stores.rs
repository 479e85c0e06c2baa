//! SQLite and PostgreSQL side by side, in one run (`ROSTER_BENCH_ONLY=stores`
//! with `ROSTER_BENCH_POSTGRES_URL`, an admin URL of a PostgreSQL on this
//! machine, such as the one `tests/postgres/server.sh` starts): creates per
//! second with 64 clients through one server and through two replicas,
//! `userName eq` look-ups per second, and latency at 500 requests/s.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Server, bench_org, create_users, fixed_rate, lookups};

const USERS: u64 = 5_000;

/// A fresh database on the benchmark's PostgreSQL (on a thread of its
/// own: the client blocks, which an async runtime's thread must not).
fn postgres_database(admin: &str) -> String {
    let admin = admin.to_string();
    std::thread::spawn(move || create_database(&admin))
        .join()
        .unwrap()
}

fn create_database(admin: &str) -> String {
    let name = format!("roster_bench_{}", std::process::id());
    let mut client = postgres::Client::connect(admin, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

async fn one_store(bin: &str, db: &str, two_replicas: bool) -> Value {
    let (_, token) = bench_org(bin, db, &["--sup", "on"]);
    let a = Server::start(bin, db, &[]);
    let ta = a.target(&token);
    let creates_1 = create_users(&ta, "u", 0, USERS, 64).await;
    let look = lookups(&ta, USERS, 64, Duration::from_secs(10)).await;
    let (p50, p99, max) = fixed_rate(&ta, USERS, 500, Duration::from_secs(10), 1_000_000).await;
    let mut out = json!({
        "creates_per_s_64_clients_one_server": creates_1.round(),
        "lookups_per_s_64_clients": look.round(),
        "p50_ms_at_500rps": p50,
        "p99_ms_at_500rps": p99,
        "max_ms_at_500rps": max,
    });
    if two_replicas {
        let b = Server::start(bin, db, &[]);
        let tb = b.target(&token);
        let began = std::time::Instant::now();
        let (_, _) = tokio::join!(
            create_users(&ta, "b", 0, USERS / 2, 32),
            create_users(&tb, "c", 0, USERS / 2, 32)
        );
        let both = USERS as f64 / began.elapsed().as_secs_f64();
        out["creates_per_s_64_clients_two_replicas"] = json!(both.round());
    }
    out
}

pub async fn store_comparison(bin: &str, dir: &std::path::Path) -> Value {
    let admin = std::env::var("ROSTER_BENCH_POSTGRES_URL")
        .expect("ROSTER_BENCH_ONLY=stores needs ROSTER_BENCH_POSTGRES_URL (an admin URL)");
    let sqlite = format!("sqlite://{}", dir.join("stores.db").display());
    eprintln!("SQLite...");
    let s = one_store(bin, &sqlite, false).await;
    eprintln!("PostgreSQL...");
    let p = one_store(bin, &postgres_database(&admin), true).await;
    let ratio = |k: &str| {
        let (a, b) = (p[k].as_f64().unwrap_or(0.0), s[k].as_f64().unwrap_or(1.0));
        (a / b * 100.0).round() / 100.0
    };
    json!({
        "users": USERS,
        "sqlite": s,
        "postgres": p,
        "ratio_postgres_to_sqlite": {
            "creates_one_server": ratio("creates_per_s_64_clients_one_server"),
            "lookups": ratio("lookups_per_s_64_clients"),
            "p99_at_500rps": ratio("p99_ms_at_500rps"),
        },
    })
}
