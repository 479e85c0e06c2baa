//! Any body either applies as a PATCH (RFC 7644 §3.5.2) to a user, giving
//! a document that is itself a valid user, or is refused with a 4xx SCIM
//! error; nothing panics, and nothing is refused as a server error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::scim::patch::{apply, parse_request};
use roster::scim::resource::from_request;
use roster::scim::schema::ResourceType;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "name": {"givenName": "Ada"},
    });
    let Ok(doc) = from_request(ResourceType::User, &user) else { return };
    let client_error = |status: u16| (400..500).contains(&status);
    match parse_request(&body) {
        Ok(ops) => match apply(ResourceType::User, &doc, &ops) {
            Ok(patched) => {
                let mut again = serde_json::Map::new();
                again.insert("schemas".into(), json!(["urn:ietf:params:scim:schemas:core:2.0:User"]));
                again.extend(patched);
                if let Err(e) = from_request(ResourceType::User, &Value::Object(again)) {
                    assert!(client_error(e.status), "{e:?}");
                }
            }
            Err(e) => assert!(client_error(e.status), "{e:?}"),
        },
        Err(e) => assert!(client_error(e.status), "{e:?}"),
    }
    // The same body as a whole resource (POST or PUT).
    if let Err(e) = from_request(ResourceType::Group, &body) {
        assert!(client_error(e.status), "{e:?}");
    }
});
