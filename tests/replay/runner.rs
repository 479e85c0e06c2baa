//! Replays a suite of recorded identity-provider requests (a JSON file in
//! this folder) against a running Roster, checking each reply. Shared by
//! the integration tests and the load benchmark (which times each step).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;

/// One replayed request: its name, the IdP's time limit and how long it took.
pub struct StepTiming {
    pub name: String,
    pub limit: Duration,
    pub elapsed: Duration,
}

/// Replaces `{{name}}` in every string of `v`. A string that is exactly
/// one placeholder becomes the variable's JSON value.
fn fill(v: &Value, vars: &HashMap<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
                && let Some(val) = vars.get(name)
                && !val.is_string()
            {
                return val.clone();
            }
            Value::String(fill_str(s, vars))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (fill_str(k, vars), fill(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn fill_str(s: &str, vars: &HashMap<String, Value>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        let text = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{{{k}}}}}"), &text);
    }
    out
}

/// `expected` is contained in `actual`: objects by key, arrays element by
/// element (same length), everything else equal.
fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{at}/{k} is missing"))?;
                subset(ev, av, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{at} has {} values, expected {}", a.len(), e.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{at}/{i}"))?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at} is {a}, expected {e}")),
    }
}

/// Runs every step of `suite` against `scim_base` (`http://host/scim/org`).
/// `vars` holds `token` and `run`; captures are added as the suite goes.
pub fn run_suite(
    client: &Client,
    scim_base: &str,
    suite: &Value,
    mut vars: HashMap<String, Value>,
) -> Result<Vec<StepTiming>, String> {
    let steps = suite["steps"].as_array().ok_or("the suite has no steps")?;
    let mut timings = Vec::with_capacity(steps.len());
    for step in steps {
        let name = fill_str(step["name"].as_str().unwrap_or("?"), &vars);
        let fail = |why: String| {
            format!(
                "{} step \"{name}\": {why}",
                suite["idp"].as_str().unwrap_or("")
            )
        };
        let method =
            reqwest::Method::from_bytes(step["method"].as_str().unwrap_or("GET").as_bytes())
                .map_err(|e| fail(e.to_string()))?;
        let path = fill_str(step["path"].as_str().unwrap_or(""), &vars);
        let mut req = client.request(method, format!("{scim_base}{path}"));
        if let Some(headers) = step["headers"].as_object() {
            for (k, v) in headers {
                req = req.header(k.as_str(), fill_str(v.as_str().unwrap_or(""), &vars));
            }
        }
        if let Some(body) = step.get("body") {
            req = req.body(fill(body, &vars).to_string());
        }
        let started = Instant::now();
        let resp = req.send().map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().map_err(|e| fail(e.to_string()))?;
        let elapsed = started.elapsed();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };

        let expect = fill(&step["expect"], &vars);
        if let Some(want) = expect["status"].as_u64()
            && u64::from(status) != want
        {
            return Err(fail(format!(
                "status {status}, expected {want}; body: {text}"
            )));
        }
        if let Some(want) = expect.get("body") {
            subset(want, &body, "").map_err(|e| fail(format!("{e}; body: {text}")))?;
        }
        for pointer in expect["absent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if body.pointer(pointer).is_some() {
                return Err(fail(format!("{pointer} should be absent; body: {text}")));
            }
        }
        for needle in expect["contains"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !text.contains(needle) {
                return Err(fail(format!(
                    "the reply does not mention \"{needle}\": {text}"
                )));
            }
        }
        for (k, v) in expect["headers"].as_object().into_iter().flatten() {
            let got = headers
                .get(k.as_str())
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if !got.starts_with(v.as_str().unwrap_or("")) {
                return Err(fail(format!("header {k} is \"{got}\", expected \"{v}\"")));
            }
        }
        for (var, pointer) in step["capture"].as_object().into_iter().flatten() {
            let pointer = pointer.as_str().unwrap_or("");
            let value = body
                .pointer(pointer)
                .cloned()
                .ok_or_else(|| fail(format!("nothing at {pointer} to capture")))?;
            vars.insert(var.clone(), value);
        }
        let limit = Duration::from_millis(step["limit_ms"].as_u64().unwrap_or(600));
        timings.push(StepTiming {
            name,
            limit,
            elapsed,
        });
    }
    Ok(timings)
}
