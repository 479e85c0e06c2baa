//! `roster serve --tls-cert/--tls-key` and the agent over HTTPS: a site CA
//! made with openssl, the agent trusting it with --ca-file, the errors an
//! operator sees for an unknown CA, a wrong token and a refused connection,
//! and a new certificate taken on SIGHUP.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::*;

/// A CA (`NAME-ca.pem`) and a certificate it signed for 127.0.0.1
/// (`server.pem`, `server.key`, overwritten) in `dir`.
fn site_ca(dir: &Path, name: &str) {
    // `openssl` with the words of one command line.
    let run = |line: String| {
        let out = Command::new("openssl")
            .args(line.split(' '))
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {line}: {out:?}");
    };
    let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let ca = format!("-CA {name}-ca.pem -CAkey {name}-ca.key");
    run(format!(
        "req -x509 {new_key} -keyout {name}-ca.key -out {name}-ca.pem -days 2 -subj /CN={name} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
    ));
    run(format!(
        "req {new_key} -keyout server.key -out server.csr -subj /CN=roster"
    ));
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(format!(
        "x509 -req -in server.csr {ca} -CAcreateserial -out server.pem -days 2 -extfile server.ext"
    ));
}

/// One `roster agent --once` against the TLS server.
fn agent(app: &TestApp, work: &Path, server: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "agent".to_string(),
        "--server".into(),
        server.into(),
        "--org".into(),
        "acme".into(),
        "--cluster".into(),
        "c1".into(),
        "--once".into(),
        "--token-file".into(),
        work.join("token").display().to_string(),
        "--nss-dir".into(),
        work.join("etc").display().to_string(),
        "--state-file".into(),
        work.join("state.json").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(roster_bin())
        .args(&args)
        .env("ROSTER_DATABASE", &app.db)
        .output()
        .unwrap()
}

#[test]
fn serve_tls_with_a_site_ca_reloaded_on_sighup() {
    let certs = tempfile::tempdir().unwrap();
    site_ca(certs.path(), "first");
    let cert = certs.path().join("server.pem").display().to_string();
    let key = certs.path().join("server.key").display().to_string();
    let app = TestApp::start_with(&["--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        app.wait_for_log("listening on https://"),
        "https in the log"
    );
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    cli_ok(
        &app.db,
        &["user", "create", "acme", "--user-name", "ada@example.com"],
    );
    cli_ok(&app.db, &["group", "create", "acme", "gpu"]);
    cli_ok(
        &app.db,
        &["group", "add-member", "acme", "gpu", "ada@example.com"],
    );
    let token = create_cluster(&app.db, "c1", "gpu");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("etc")).unwrap();
    std::fs::write(work.path().join("token"), &token).unwrap();
    let server = format!("https://{}", app.addr);
    let first_ca = certs.path().join("first-ca.pem").display().to_string();
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    // Trusting the site CA: the caches are written over HTTPS.
    let out = agent(&app, work.path(), &server, &["--ca-file", &first_ca]);
    assert!(out.status.success(), "{}", stderr(&out));
    let passwd = std::fs::read_to_string(work.path().join("etc/passwd.cache")).unwrap();
    assert!(passwd.starts_with("ada:x:"), "{passwd}");

    // Each failure says what it is and what to do.
    let out = agent(&app, work.path(), &server, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("TLS: unknown CA") && stderr(&out).contains("--ca-file"),
        "{}",
        stderr(&out)
    );
    std::fs::write(work.path().join("token"), "roster_cluster_wrong").unwrap();
    let out = agent(&app, work.path(), &server, &["--ca-file", &first_ca]);
    assert!(stderr(&out).contains("wrong token"), "{}", stderr(&out));
    std::fs::write(work.path().join("token"), &token).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let out = agent(
        &app,
        work.path(),
        &format!("https://{closed_addr}"),
        &["--ca-file", &first_ca],
    );
    assert!(
        stderr(&out).contains("connection refused by"),
        "{}",
        stderr(&out)
    );
    // Plain HTTP to the TLS port is not served.
    let plain = reqwest::blocking::get(format!("http://{}/healthz", app.addr));
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    // A new certificate from another CA, taken on SIGHUP without a restart.
    site_ca(certs.path(), "second");
    app.signal("HUP");
    assert!(app.wait_for_log("TLS certificate reloaded"));
    let second_ca = certs.path().join("second-ca.pem").display().to_string();
    let out = agent(&app, work.path(), &server, &["--ca-file", &second_ca]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = agent(&app, work.path(), &server, &["--ca-file", &first_ca]);
    assert!(
        stderr(&out).contains("TLS: unknown CA"),
        "the old certificate is gone: {}",
        stderr(&out)
    );
    // A broken file on SIGHUP keeps the current certificate.
    std::fs::write(certs.path().join("server.pem"), "not a certificate").unwrap();
    app.signal("HUP");
    assert!(app.wait_for_log("TLS certificate not reloaded"));
    let out = agent(&app, work.path(), &server, &["--ca-file", &second_ca]);
    assert!(out.status.success(), "{}", stderr(&out));
}
