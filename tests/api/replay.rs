//! The Okta and Entra replay suites (tests/replay/*.json) against the real
//! server: every request as the IdP sends it, every reply and the state
//! read back afterwards checked.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::*;

#[path = "../replay/runner.rs"]
mod runner;

fn replay(file: &str) {
    let app = TestApp::start();
    let text = std::fs::read_to_string(format!(
        "{}/tests/replay/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let suite: Value = serde_json::from_str(&text).unwrap();
    let vars = HashMap::from([
        ("token".to_string(), Value::String(app.token.clone())),
        ("run".to_string(), Value::String(String::new())),
    ]);
    let timings = runner::run_suite(&app.client, &app.scim_url(""), &suite, vars)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(timings.len(), suite["steps"].as_array().unwrap().len());
    // Timing is the benchmark's business; here every step is named and
    // carries the IdP's limit for it.
    assert!(
        timings
            .iter()
            .all(|t| !t.name.is_empty() && t.limit.as_millis() >= 400)
    );
    let slowest = timings.iter().max_by_key(|t| t.elapsed).unwrap();
    eprintln!(
        "{file}: {} steps, slowest \"{}\" in {:?}",
        timings.len(),
        slowest.name,
        slowest.elapsed
    );
}

#[test]
fn okta_provisioning_replays() {
    replay("okta.json");
}

#[test]
fn entra_provisioning_replays() {
    replay("entra.json");
}
