//! Property tests for the protocol core: the filter grammar (parse, print,
//! parse round trip; no input makes the parser fail other than with
//! invalidFilter) and the PATCH engine (results are always valid
//! documents; a refused request leaves nothing behind).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde_json::{Number, Value, json};

use roster::scim::filter::{
    AttrPath, CompValue, CompareOp, Filter, Path, parse_filter, parse_path,
};
use roster::scim::patch::{self, Operation};
use roster::scim::resource::{self, Document};
use roster::scim::schema::ResourceType;
use roster::scim::{ScimError, ScimType};

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_]{0,8}",
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "$ref"]).prop_map(str::to_string),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    let urn = prop::option::weighted(
        0.2,
        prop::sample::select(vec![
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser",
        ])
        .prop_map(str::to_string),
    );
    (urn, name(), prop::option::weighted(0.3, name())).prop_map(|(urn, name, sub)| AttrPath {
        urn,
        name,
        sub,
    })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|i| CompValue::Number(Number::from(i))),
        (-1.0e12f64..1.0e12)
            .prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

/// Filters allowed inside brackets: plain names, no nested brackets.
fn inner_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (name(), op(), comp_value()).prop_map(|(n, op, value)| Filter::Compare {
            path: Path {
                attr: AttrPath {
                    urn: None,
                    name: n,
                    sub: None
                },
                filter: None,
                sub: None
            },
            op,
            value
        }),
        name().prop_map(|n| Filter::Present(Path {
            attr: AttrPath {
                urn: None,
                name: n,
                sub: None
            },
            filter: None,
            sub: None
        })),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let plain = |a: AttrPath| Path {
        attr: a,
        filter: None,
        sub: None,
    };
    let leaf = prop_oneof![
        4 => (attr_path(), op(), comp_value()).prop_map(move |(a, op, value)| Filter::Compare { path: plain(a), op, value }),
        2 => attr_path().prop_map(move |a| Filter::Present(plain(a))),
        1 => (attr_path().prop_map(|a| AttrPath { sub: None, ..a }), inner_filter())
            .prop_map(|(attr, f)| Filter::Has { attr, filter: Box::new(f) }),
        1 => (attr_path().prop_map(|a| AttrPath { sub: None, ..a }), inner_filter(), name(), op(), comp_value())
            .prop_map(|(attr, f, sub, op, value)| Filter::Compare { path: Path { attr, filter: Some(Box::new(f)), sub: Some(sub) }, op, value }),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn filters_print_and_parse_back(f in filter()) {
        let printed = f.to_string();
        let parsed = parse_filter(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&f), "printed: {} -> {:?}", printed, parsed);
    }

    #[test]
    fn any_text_parses_or_is_an_invalid_filter(s in ".{0,80}") {
        match parse_filter(&s) {
            Ok(f) => {
                // What parses prints to something that parses to the same tree.
                prop_assert_eq!(parse_filter(&f.to_string()).ok(), Some(f));
            }
            Err(ScimError { status, scim_type, .. }) => {
                prop_assert_eq!(status, 400);
                prop_assert_eq!(scim_type, Some(ScimType::InvalidFilter));
            }
        }
    }

    #[test]
    fn any_text_is_a_path_or_an_invalid_path(s in ".{0,60}") {
        match parse_path(&s) {
            Ok(p) => prop_assert_eq!(parse_path(&p.to_string()).ok(), Some(p)),
            Err(e) => prop_assert_eq!(e.scim_type, Some(ScimType::InvalidPath)),
        }
    }
}

// ---- PATCH ----

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        "[a-z@.]{0,6}".prop_map(Value::String),
        Just(json!("True")),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["value", "type", "primary", "givenName", "display"])
                    .prop_map(str::to_string),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_path() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.85,
        prop::sample::select(vec![
            "displayName",
            "active",
            "title",
            "userName",
            "name",
            "name.givenName",
            "emails",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[value co \"@\"].primary",
            "emails.value",
            "phoneNumbers",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser",
            "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser:sunkSshKeys",
            "id",
            "meta",
            "groups",
            "nosuch",
            "emails[",
        ])
        .prop_map(str::to_string),
    )
}

fn operation() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["add", "replace", "remove", "Replace", "Add"]),
        patch_path(),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

fn base_user() -> Document {
    let v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "p@example.com",
        "active": true,
        "name": {"givenName": "P"},
        "emails": [{"value": "p@example.com", "type": "work", "primary": true}, {"value": "q@home", "type": "home"}]
    });
    resource::from_request(ResourceType::User, &v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Whatever the operations, the result is a valid, normalized
    /// document, or the request is refused with a 4xx SCIM error.
    #[test]
    fn patch_results_are_valid_documents(ops in prop::collection::vec(operation(), 0..5)) {
        let doc = base_user();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let parsed: Result<Vec<Operation>, ScimError> = patch::parse_request(&body);
        let result = parsed.and_then(|ops| patch::apply(ResourceType::User, &doc, &ops));
        match result {
            Ok(out) => {
                prop_assert_eq!(resource::normalize(ResourceType::User, &out).unwrap(), out.clone());
                prop_assert!(resource::check_required(ResourceType::User, &out).is_ok());
                let primaries = out.get("emails").and_then(Value::as_array).map(|a| a.iter().filter(|e| e.get("primary") == Some(&json!(true))).count()).unwrap_or(0);
                prop_assert!(primaries <= 1);
            }
            Err(e) => {
                prop_assert!((400..500).contains(&e.status), "{:?}", e);
                prop_assert!(e.scim_type.is_some(), "{:?}", e);
            }
        }
    }

    /// A replace applied twice is the same as once. (Not for value-filter
    /// paths: a replace may change what its own filter selects.)
    #[test]
    fn replace_is_idempotent(path in patch_path(), value in json_value()) {
        prop_assume!(!path.as_deref().unwrap_or("").contains('['));
        let doc = base_user();
        let mut op = json!({"op": "replace", "value": value});
        if let Some(p) = path {
            op["path"] = json!(p);
        }
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
        if let Ok(ops) = patch::parse_request(&body)
            && let Ok(once) = patch::apply(ResourceType::User, &doc, &ops)
        {
            let twice = patch::apply(ResourceType::User, &once, &ops);
            prop_assert_eq!(twice.ok(), Some(once));
        }
    }

    /// Adding members and removing them by filter gives the group back.
    #[test]
    fn add_then_remove_members_restores_the_group(ids in prop::collection::btree_set("[a-f0-9]{8}", 1..6)) {
        let group = resource::from_request(ResourceType::Group, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": "keep"}]})).unwrap();
        let members: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
        let mut ops = vec![json!({"op": "add", "path": "members", "value": members})];
        for i in &ids {
            ops.push(json!({"op": "remove", "path": format!("members[value eq \"{i}\"]")}));
        }
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let out = patch::apply(ResourceType::Group, &group, &patch::parse_request(&body).unwrap()).unwrap();
        prop_assert_eq!(out, group);
    }
}
