//! Removing secrets from request bodies before they are recorded in the
//! provisioning log.

use serde_json::Value;

/// Longest body recorded, in bytes of JSON text; longer ones are cut.
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

const REDACTED: &str = "[redacted]";

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "password" || k.ends_with(":password") || k.contains("secret")
}

fn scrub(v: &mut Value) {
    match v {
        Value::Object(map) => {
            // A PATCH operation whose path names a secret: its value.
            let secret_path = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, p)| p.as_str())
                .is_some_and(|p| {
                    p.to_ascii_lowercase().contains("password")
                        || p.to_ascii_lowercase().contains("secret")
                });
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) || (secret_path && k.eq_ignore_ascii_case("value")) {
                    *val = Value::String(REDACTED.into());
                } else {
                    scrub(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), marked
/// as cut when it was.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push_str("…(cut)");
    }
    text
}

/// The body as recorded: JSON with every password and secret replaced,
/// cut at `max` bytes ([`MAX_LOGGED_BODY`] for an IdP's). A body that is
/// not JSON is not recorded, only its size, as secrets in it cannot be
/// found.
pub fn redacted_body(bytes: &[u8], max: usize) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            scrub(&mut v);
            Some(cut(v.to_string(), max))
        }
        Err(_) => Some(format!("(not JSON, {} bytes; not recorded)", bytes.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_and_secrets_are_removed() {
        let body = json!({
            "userName": "a", "password": "hunter2", "Password": "x",
            "urn:x:clientSecret": "s",
            "Operations": [{"op": "replace", "path": "password", "value": "p2"}, {"op": "replace", "value": {"password": "p3", "active": false}}]
        });
        let out = redacted_body(body.to_string().as_bytes(), MAX_LOGGED_BODY).unwrap_or_default();
        for secret in ["hunter2", "\"x\"", "\"s\"", "p2", "p3"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("\"active\":false") && out.contains("\"userName\":\"a\""));
        assert_eq!(
            redacted_body(b"password=1", MAX_LOGGED_BODY),
            Some("(not JSON, 10 bytes; not recorded)".into())
        );
        assert_eq!(redacted_body(b"", MAX_LOGGED_BODY), None);
        assert_eq!(
            redacted_body(br#"{"a":"\u00e9\u00e9"}"#, 8),
            Some("{\"a\":\"é…(cut)".into()),
            "cut on a character boundary"
        );
    }
}
