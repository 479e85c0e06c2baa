use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// Five users with the attributes the filters below look at.
fn seed(app: &TestApp) -> Vec<String> {
    let users = [
        json!({"schemas": [USER], "userName": "alice@example.com", "displayName": "Alice Smith", "externalId": "ext-A", "active": true, "title": "Engineer",
               "name": {"givenName": "Alice", "familyName": "Smith"},
               "emails": [{"value": "alice@example.com", "type": "work", "primary": true}, {"value": "alice@home.org", "type": "home"}],
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research", "employeeNumber": "7"},
               "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser": {"sunkPosixUserId": 100100}}),
        json!({"schemas": [USER], "userName": "bob@example.com", "displayName": "Bob Jones", "externalId": "ext-b", "active": false, "userType": "Intern",
               "name": {"givenName": "Bob", "familyName": "Jones"},
               "emails": [{"value": "bob@example.org", "type": "work"}],
               "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser": {"sunkPosixUserId": 100200}}),
        json!({"schemas": [USER], "userName": "carol@example.com", "displayName": "Carol O'Malley", "active": true, "userType": "Employee",
               "name": {"givenName": "Carol", "familyName": "O'Malley"}}),
        json!({"schemas": [USER], "userName": "Dave@Example.com", "active": true, "title": "",
               "emails": [{"value": "dave@example.com", "type": "work", "primary": false}]}),
        json!({"schemas": [USER], "userName": "émile@example.com", "displayName": "Émile Zola", "userType": "Employee"}),
    ];
    users
        .iter()
        .map(|u| app.post("/Users", u).expect(201).id())
        .collect()
}

fn names(r: &Reply) -> Vec<String> {
    let mut v: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn the_filter_grammar_evaluated_in_the_database() {
    let app = TestApp::start();
    seed(&app);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            r#"userName eq "ALICE@example.com""#,
            vec!["alice@example.com"],
        ),
        (
            r#"USERNAME Eq "dave@example.com""#,
            vec!["Dave@Example.com"],
        ),
        (
            r#"userName eq "ÉMILE@example.com""#,
            vec!["émile@example.com"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#,
            vec!["bob@example.com"],
        ),
        (r#"externalId eq "ext-A""#, vec!["alice@example.com"]),
        (r#"externalId eq "EXT-A""#, vec![]),
        (r#"name.familyName co "'mall""#, vec!["carol@example.com"]),
        (r#"displayName ew "SMITH""#, vec!["alice@example.com"]),
        (r#"title pr"#, vec!["alice@example.com"]),
        (
            r#"not (title pr)"#,
            vec![
                "Dave@Example.com",
                "bob@example.com",
                "carol@example.com",
                "émile@example.com",
            ],
        ),
        (
            r#"active eq true"#,
            vec!["Dave@Example.com", "alice@example.com", "carol@example.com"],
        ),
        (
            r#"active eq "true""#,
            vec!["Dave@Example.com", "alice@example.com", "carol@example.com"],
        ),
        (
            r#"active ne true"#,
            vec!["bob@example.com", "émile@example.com"],
        ),
        (
            r#"userType eq "Employee" and displayName pr"#,
            vec!["carol@example.com", "émile@example.com"],
        ),
        (
            r#"userType eq "Intern" or title eq "engineer""#,
            vec!["alice@example.com", "bob@example.com"],
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            vec![],
        ),
        (
            r#"emails co "example.org" or userName eq "carol@example.com""#,
            vec!["bob@example.com", "carol@example.com"],
        ),
        (
            r#"emails[type eq "work" and primary eq true]"#,
            vec!["alice@example.com"],
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            vec!["Dave@Example.com", "alice@example.com"],
        ),
        (
            r#"emails[type eq "work"].value eq "BOB@example.org""#,
            vec!["bob@example.com"],
        ),
        (r#"emails[not (type eq "work")]"#, vec!["alice@example.com"]),
        (r#"emails.type eq "home""#, vec!["alice@example.com"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "research""#,
            vec!["alice@example.com"],
        ),
        (
            r#"urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser:sunkPosixUserId gt 100100"#,
            vec!["bob@example.com"],
        ),
        (
            r#"urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser:sunkPosixUserId ge 100100"#,
            vec!["alice@example.com", "bob@example.com"],
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            vec!["alice@example.com"],
        ),
        (r#"meta.resourceType eq "Group""#, vec![]),
        (r#"meta.created lt "2000-01-01T00:00:00Z""#, vec![]),
        (
            r#"userName gt "d" and userName lt "e""#,
            vec!["Dave@Example.com"],
        ),
        (r#"displayName eq null"#, vec!["Dave@Example.com"]),
    ];
    for (filter, expected) in cases {
        let r = app.get_with("/Users", &[("filter", filter)]).expect(200);
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(names(&r), want, "filter {filter}");
        assert_eq!(r.total(), want.len() as u64, "filter {filter}");
    }
    // meta.lastModified gt: everything changed after a moment, nothing before.
    let now = chrono_now();
    app.patch(
        &format!(
            "/Users/{}",
            app.get_with("/Users", &[("filter", "userName eq \"bob@example.com\"")])
                .ids()[0]
        ),
        json!([{"op": "replace", "path": "title", "value": "T"}]),
    )
    .expect(200);
    let r = app
        .get_with(
            "/Users",
            &[("filter", &format!("meta.lastModified gt \"{now}\""))],
        )
        .expect(200);
    assert_eq!(names(&r), vec!["bob@example.com"]);
    // The IdPs' URL encodings: + for spaces, %20, %22.
    let r = app
        .send(
            app.client
                .get(format!(
                    "{}?filter=userName+eq+%22carol%40example.com%22",
                    app.scim_url("/Users")
                ))
                .bearer_auth(&app.token),
        )
        .expect(200);
    assert_eq!(r.total(), 1);
}

fn chrono_now() -> String {
    // A timestamp strictly after everything created so far, on the clock
    // the server reads (the system's).
    std::thread::sleep(std::time::Duration::from_millis(20));
    roster::directory::Clock::system().rfc3339()
}

#[test]
fn invalid_filters_are_refused_never_silently_empty() {
    let app = TestApp::start();
    seed(&app);
    for filter in [
        "userName",
        "userName eq",
        "userName eq \"x",
        "(userName eq \"x\"",
        "userName zz \"x\"",
        "nosuch eq \"x\"",
        "userName eq 1",
        "active gt true",
        "name eq \"x\"",
        "emails[type eq \"work\"",
        "emails[nosub eq 1]",
        "meta.lastModified gt \"not a date\"",
        "urn:nope:Thing:attr eq 1",
        "userName eq \"x\" and",
        "groups.display co \"x\"",
        "sunkPosixUserId co 1",
    ] {
        let r = app.get_with("/Users", &[("filter", filter)]);
        r.expect_error(400, Some("invalidFilter"));
    }
}

#[test]
fn sorting_and_index_paging() {
    let app = TestApp::start();
    seed(&app);
    let r = app
        .get_with(
            "/Users",
            &[("sortBy", "userName"), ("sortOrder", "descending")],
        )
        .expect(200);
    let got: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            "émile@example.com",
            "Dave@Example.com",
            "carol@example.com",
            "bob@example.com",
            "alice@example.com"
        ]
    );
    let r = app
        .get_with("/Users", &[("sortBy", "name.givenName")])
        .expect(200);
    let got: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        &got[..3],
        &["alice@example.com", "bob@example.com", "carol@example.com"]
    );
    app.get_with("/Users", &[("sortBy", "emails")])
        .expect_error(400, Some("invalidValue"));
    app.get_with("/Users", &[("sortOrder", "sideways")])
        .expect_error(400, Some("invalidValue"));

    // Okta's paging: startIndex/count as integers, a stable order.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let r = app
            .get_with(
                "/Users",
                &[("startIndex", &start.to_string()), ("count", "2")],
            )
            .expect(200);
        assert_eq!(r.body["startIndex"], start);
        assert_eq!(r.body["totalResults"], 5);
        assert_eq!(
            r.body["itemsPerPage"].as_u64().unwrap(),
            r.ids().len() as u64
        );
        seen.extend(r.ids());
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    let r = app.get_with("/Users", &[("count", "0")]).expect(200);
    assert_eq!(r.total(), 5);
    assert!(r.ids().is_empty());
    let r = app.get_with("/Users", &[("startIndex", "99")]).expect(200);
    assert_eq!(r.total(), 5);
    assert!(r.ids().is_empty());
    app.get_with("/Users", &[("count", "many")])
        .expect_error(400, Some("invalidValue"));
}

#[test]
fn cursor_paging_survives_concurrent_changes() {
    let app = TestApp::start();
    let mut ids: Vec<String> = (0..25)
        .map(|i| app.create_user(&format!("c{i:02}@example.com")).id())
        .collect();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let r = app
            .get_with("/Users", &[("cursor", &cursor), ("count", "10")])
            .expect(200);
        assert!(r.body.get("startIndex").is_none());
        seen.extend(r.ids());
        pages += 1;
        if pages == 1 {
            // Inserted and deleted while paging: no page shifts.
            ids.push(app.create_user("late@example.com").id());
            app.delete(&format!("/Users/{}", ids[0])).expect(204);
        }
        match r.body.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen.len(),
        26,
        "each user exactly once, the late one included"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 26);
    app.get_with("/Users", &[("cursor", "garbage!")])
        .expect_error(400, Some("invalidCursor"));
    app.get_with("/Users", &[("cursor", ""), ("startIndex", "1")])
        .expect_error(400, Some("invalidValue"));
}

#[test]
fn attributes_and_excluded_attributes() {
    let app = TestApp::start();
    let ids = seed(&app);
    let r = app
        .get_with(
            &format!("/Users/{}", ids[0]),
            &[("attributes", "userName,name.givenName")],
        )
        .expect(200);
    let keys: HashSet<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["schemas", "id", "userName", "name"]));
    assert_eq!(r.body["name"], json!({"givenName": "Alice"}));
    let r = app
        .get_with(
            &format!("/Users/{}", ids[0]),
            &[("excludedAttributes", "emails,meta,id")],
        )
        .expect(200);
    assert!(r.body.get("emails").is_none() && r.body.get("meta").is_none());
    assert_eq!(r.body["id"], ids[0].as_str(), "id is returned always");
    let r = app
        .get_with(
            "/Users",
            &[
                (
                    "attributes",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                ),
                ("filter", "title pr"),
            ],
        )
        .expect(200);
    assert_eq!(
        r.body["Resources"][0]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"department": "Research"})
    );
}

#[test]
fn search_with_post() {
    let app = TestApp::start();
    seed(&app);
    let a = app
        .get_with("/Users", &[("filter", "userName eq \"alice@example.com\"")])
        .ids();
    let gid = app.create_group("team", &[&a[0]]).id();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userType eq \"Employee\"", "attributes": ["userName"], "sortBy": "userName", "count": 1});
    let r = app.post("/Users/.search", &body).expect(200);
    assert_eq!(r.total(), 2);
    assert_eq!(
        r.body["Resources"][0],
        json!({"schemas": [USER], "id": r.ids()[0], "userName": "carol@example.com"})
    );
    // At the root, across resource types.
    let r = app.post("/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName sw \"t\" or userName sw \"a\""})).expect(200);
    let mut ids = r.ids();
    ids.sort();
    let mut want = vec![a[0].clone(), gid.clone()];
    want.sort();
    assert_eq!(ids, want);
    let r = app
        .get_with("", &[("filter", "meta.resourceType eq \"Group\"")])
        .expect(200);
    assert_eq!(r.ids(), vec![gid.clone()]);
    // Membership filters.
    let r = app
        .get_with(
            "/Groups",
            &[("filter", &format!("members.value eq \"{}\"", a[0]))],
        )
        .expect(200);
    assert_eq!(r.ids(), vec![gid.clone()]);
    let r = app
        .get_with(
            "/Users",
            &[("filter", &format!("groups.value eq \"{gid}\""))],
        )
        .expect(200);
    assert_eq!(r.ids(), a);
    app.post("/Users/.search", &json!({"schemas": ["wrong"]}))
        .expect_error(400, Some("invalidSyntax"));
    app.post("/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "(("})).expect_error(400, Some("invalidFilter"));
}
