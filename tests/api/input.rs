use serde_json::json;

use crate::helpers::*;

#[test]
fn malformed_and_hostile_bodies_change_nothing() {
    let app = TestApp::start();
    let users = app.scim_url("/Users");
    let post = |body: &str, ct: Option<&str>| {
        let mut r = app
            .client
            .post(&users)
            .bearer_auth(&app.token)
            .body(body.to_string());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        app.send(r)
    };
    post("{not json", Some("application/scim+json")).expect_error(400, Some("invalidSyntax"));
    post("", None).expect_error(400, Some("invalidSyntax"));
    post("[1,2]", Some("application/json")).expect_error(400, Some("invalidSyntax"));
    post(
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}"#,
        None,
    )
    .expect_error(400, Some("invalidSyntax"));
    post(
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 42}"#,
        None,
    )
    .expect_error(400, Some("invalidValue"));
    post(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "active": "yes"}"#, None).expect_error(400, Some("invalidValue"));
    post(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "emails": {"value": 1}}"#, None).expect_error(400, Some("invalidValue"));
    post(
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"}"#,
        Some("text/plain"),
    )
    .expect_error(415, None);
    let big = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "big", "title": "{}"}}"#,
        "x".repeat(1_100_000)
    );
    post(&big, Some("application/scim+json")).expect_error(413, None);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    post(&deep, Some("application/json")).expect_error(400, Some("invalidSyntax"));
    let long_filter = format!("userName eq \"{}\"", "a".repeat(10_000));
    app.get_with("/Users", &[("filter", &long_filter)])
        .expect_error(400, Some("invalidFilter"));
    let nested = format!("{}userName pr{}", "(".repeat(200), ")".repeat(200));
    app.get_with("/Users", &[("filter", &nested)])
        .expect_error(400, Some("invalidFilter"));
    assert_eq!(app.get("/Users").total(), 0);
    // Okta's test suite posts without a content type; that works.
    post(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nocontenttype@example.com"}"#, None).expect(201);
    post(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "json@example.com"}"#, Some("application/json; charset=utf-8")).expect(201);
    assert_eq!(app.get("/Users").total(), 2);
    // Ids that do not exist, or are not ids at all.
    app.get("/Users/%00%ff").expect_error(404, None);
    app.patch("/Groups/nope", json!([])).expect_error(404, None);
}
