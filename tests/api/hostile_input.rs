//! Malformed and hostile values: each gets 400 with a `scimType` and a
//! detail a person can act on, and changes nothing. The type and
//! multiplicity checks are driven by the schemas the server advertises,
//! so every attribute of every schema is tried, not a chosen few.

use serde_json::{Value, json};

use crate::helpers::*;

/// The org's users and groups, as a fingerprint of what is stored.
fn everything(app: &TestApp) -> Value {
    json!([
        app.get("/Users").body["Resources"],
        app.get("/Groups").body["Resources"]
    ])
}

#[test]
fn control_characters_and_look_alike_names_are_refused() {
    let app = sup_app();
    let kate = app.create_user("kate@example.com");
    let group = app.create_group("gpu", &[&kate.id()]);
    let before = everything(&app);
    for bad in [
        "nul\u{0}@example.com",
        "esc\u{1b}[2J@example.com",
        "cr\r@example.com",
        "nel\u{85}@example.com",
    ] {
        let r = app
            .post("/Users", &json!({"schemas": [USER], "userName": bad}))
            .expect_error(400, Some("invalidValue"));
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("control character"),
            "{}",
            r.body
        );
    }
    for (path, value) in [
        ("displayName", json!("Kate\u{7}")),
        ("title", json!("x\u{0}y")),
        ("name.givenName", json!("\u{9b}31m")),
    ] {
        app.patch(
            &format!("/Users/{}", kate.id()),
            json!([{"op": "replace", "path": path, "value": value}]),
        )
        .expect_error(400, Some("invalidValue"));
    }
    app.patch(
        &format!("/Groups/{}", group.id()),
        json!([{"op": "replace", "path": "displayName", "value": "gpu\u{0}"}]),
    )
    .expect_error(400, Some("invalidValue"));
    // The Kelvin sign (U+212A) is not NFKC: refused, not matched to kate.
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "\u{212A}ate@example.com"}),
        )
        .expect_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("NFKC"),
        "{}",
        r.body
    );
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "ｇｐｕ"}),
    )
    .expect_error(400, Some("invalidValue"));
    // Keys in one string, one per line, are still accepted.
    let dir = tempfile::tempdir().unwrap();
    let two = format!(
        "{}\r\n{}",
        keygen(dir.path(), "ed25519", None, "k1"),
        keygen(dir.path(), "ed25519", None, "k2")
    );
    assert_eq!(everything(&app), before);
    let r = app
        .patch(
            &format!("/Users/{}", kate.id()),
            json!([{"op": "replace", "path": format!("{CW}:sunkSshKeys"), "value": two}]),
        )
        .expect(200);
    assert_eq!(r.body[CW]["sunkSshKeys"].as_array().unwrap().len(), 2);
}

#[test]
fn group_members_without_a_value_are_refused() {
    let app = TestApp::start();
    let u = app.create_user("ada@example.com");
    let g = app.create_group("gpu", &[&u.id()]);
    let before = everything(&app);
    for member in [json!({"value": null}), json!({}), json!({"display": "ada"})] {
        app.post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "new", "members": [member]}),
        )
        .expect_error(400, Some("invalidValue"));
        app.put(
            &format!("/Groups/{}", g.id()),
            &json!({"schemas": [GROUP], "displayName": "gpu", "members": [member]}),
        )
        .expect_error(400, Some("invalidValue"));
        let r = app
            .patch(
                &format!("/Groups/{}", g.id()),
                json!([{"op": "add", "path": "members", "value": [member]}]),
            )
            .expect_error(400, Some("invalidValue"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("\"value\""),
            "{}",
            r.body
        );
    }
    assert_eq!(everything(&app), before);
}

/// A value of the wrong type or multiplicity for `attr` (a /Schemas entry).
fn wrong_values(attr: &Value) -> Vec<Value> {
    let multi = attr["multiValued"] == true;
    let one = match attr["type"].as_str().unwrap() {
        "string" | "reference" | "binary" => json!(17),
        "boolean" => json!("maybe"),
        "integer" => json!("seventeen"),
        "decimal" => json!("x"),
        "dateTime" => json!("yesterday"),
        "complex" => json!(17),
        other => panic!("unknown type {other}"),
    };
    if multi {
        let mut v = vec![json!([one.clone()])];
        if attr["type"] == "complex" {
            // "emails": "text" is not a list of objects.
            v.push(json!("text"));
            v.push(json!({"value": "x"}));
        }
        v
    } else {
        vec![one, json!([json!("a"), json!("b")])]
    }
}

#[test]
fn every_attribute_of_every_schema_refuses_the_wrong_type() {
    let app = sup_app();
    let user = app.create_user("ada@example.com");
    let group = app.create_group("gpu", &[&user.id()]);
    let schemas = app.get("/Schemas").expect(200).body;
    let before = everything(&app);
    let mut tried = 0;
    for schema in schemas["Resources"].as_array().unwrap() {
        let id = schema["id"].as_str().unwrap();
        let (endpoint, core, base) = if id.contains("Group") {
            (
                "/Groups",
                GROUP,
                json!({"schemas": [GROUP], "displayName": "g2"}),
            )
        } else {
            (
                "/Users",
                USER,
                json!({"schemas": [USER], "userName": "u2@example.com"}),
            )
        };
        for attr in schema["attributes"].as_array().unwrap() {
            if attr["mutability"] == "readOnly" {
                continue;
            }
            let name = attr["name"].as_str().unwrap();
            for wrong in wrong_values(attr) {
                let mut body = base.clone();
                if id == core {
                    body[name] = wrong.clone();
                } else {
                    body[id] = json!({name: wrong.clone()});
                }
                let r = app.post(endpoint, &body);
                assert_eq!(
                    r.status, 400,
                    "{id}:{name} = {wrong} was accepted: {}",
                    r.body
                );
                assert!(r.scim_type().is_some(), "{}", r.body);
                let path = if id == core {
                    name.to_string()
                } else {
                    format!("{id}:{name}")
                };
                let target = if endpoint == "/Users" {
                    user.id()
                } else {
                    group.id()
                };
                let r = app.patch(
                    &format!("{endpoint}/{target}"),
                    json!([{"op": "replace", "path": path, "value": wrong}]),
                );
                assert_eq!(
                    r.status, 400,
                    "PATCH {path} = {wrong} was accepted: {}",
                    r.body
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 40, "only {tried} cases");
    assert_eq!(everything(&app), before);
}
