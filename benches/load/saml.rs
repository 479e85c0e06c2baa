//! SAML sign-ins through the ACS (`ROSTER_BENCH_ONLY=saml`): responses
//! signed by the test suite's pysaml2 IdP beforehand, then posted with 8
//! concurrent clients; first sign-ins (just-in-time accounts) and repeat
//! sign-ins (matched accounts), beside SCIM user creates in the same run as
//! the baseline for a write of one user.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{HttpClient, Server, percentile_d, run_cli};

const SIGN_INS: usize = 400;
const CLIENTS: usize = 8;

struct Idp {
    child: std::process::Child,
    base: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_idp(dir: &std::path::Path) -> Idp {
    std::fs::create_dir_all(dir).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(format!("{root}/target/saml-venv/bin/python"))
        .arg(format!("{root}/tests/saml/idp.py"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the pysaml2 IdP: run scripts/test.sh once to create target/saml-venv");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("the IdP did not start: {line:?}"))
        .to_string();
    Idp {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Posts every response once with `CLIENTS` clients; sign-ins/s and the
/// latencies.
async fn post_all(client: &HttpClient, acs: &str, responses: &[String]) -> (f64, Vec<Duration>) {
    let queue = Arc::new(std::sync::Mutex::new(responses.to_vec()));
    let began = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, acs, queue) = (client.clone(), acs.to_string(), queue.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                loop {
                    let Some(r) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let body = form_urlencoded::Serializer::new(String::new())
                        .append_pair("SAMLResponse", &r)
                        .finish();
                    let req = hyper::Request::post(&acs)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    let t = Instant::now();
                    let resp = client.request(req).await.unwrap();
                    let status = resp.status().as_u16();
                    let text = resp.into_body().collect().await.unwrap().to_bytes();
                    took.push(t.elapsed());
                    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&text));
                }
                took
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = responses.len() as f64 / began.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

pub async fn saml_timings(bin: &str, dir: &std::path::Path) -> Value {
    let db = format!("sqlite://{}", dir.join("saml.db").display());
    let idp = start_idp(&dir.join("idp"));
    let cli = |args: &[&str]| run_cli(bin, &db, args);
    let (org_id, token) = super::bench_org(bin, &db, &[]);
    cli(&[
        "saml",
        "set",
        "bench",
        "--metadata-url",
        &format!("{}/metadata?style=okta", idp.base),
    ]);
    let server = Server::start(bin, &db, &[]);
    let base = format!("http://{}/accounts/saml/{org_id}", server.addr);
    let http = reqwest::Client::new();

    eprintln!("signing {} responses with pysaml2...", 2 * SIGN_INS);
    let mut first = Vec::new();
    let mut again = Vec::new();
    for round in [&mut first, &mut again] {
        for i in 0..SIGN_INS {
            let spec = json!({
                "name_id": format!("person{i}@bench.example"), "email": format!("person{i}@bench.example"),
                "first_name": "Bench", "last_name": format!("Person {i}"),
                "destination": format!("{base}/acs"), "audience": format!("{base}/metadata"),
            });
            let r: Value = http
                .post(format!("{}/respond", idp.base))
                .body(spec.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            round.push(r["SAMLResponse"].as_str().unwrap().to_string());
        }
    }

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
    let acs = format!("{base}/acs");
    let (jit_rate, jit) = post_all(&client, &acs, &first).await;
    let (matched_rate, matched) = post_all(&client, &acs, &again).await;

    // The baseline: SCIM creates of one user each, same clients, same server.
    let target = server.target(&token);
    let create_rate =
        super::create_users(&target, "scim", 0, SIGN_INS as u64, CLIENTS as u64).await;
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    json!({
        "clients": CLIENTS,
        "sign_ins_each": SIGN_INS,
        "first_sign_in_jit": {
            "per_second": jit_rate.round(),
            "p50_ms": ms(percentile_d(&jit, 0.5)),
            "p99_ms": ms(percentile_d(&jit, 0.99)),
        },
        "repeat_sign_in_matched": {
            "per_second": matched_rate.round(),
            "p50_ms": ms(percentile_d(&matched, 0.5)),
            "p99_ms": ms(percentile_d(&matched, 0.99)),
        },
        "scim_creates_per_second": create_rate.round(),
        "ratio_jit_sign_ins_to_scim_creates": (jit_rate / create_rate * 100.0).round() / 100.0,
    })
}
