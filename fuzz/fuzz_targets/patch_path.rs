//! Any input either parses into a PATCH path that prints back to an equal
//! path, or is refused with 400 invalidPath; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::scim::ScimType;
use roster::scim::filter::{MAX_FILTER_LEN, parse_path};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_path(text) {
        Ok(p) => {
            let printed = p.to_string();
            if printed.len() <= MAX_FILTER_LEN {
                assert_eq!(parse_path(&printed).ok(), Some(p));
            }
        }
        Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath))),
    }
});
