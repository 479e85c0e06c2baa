//! Any input either parses into a filter that prints back to an equal tree,
//! or is refused with 400 invalidFilter; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::scim::ScimType;
use roster::scim::filter::parse_filter;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_filter(text) {
        Ok(f) => assert_eq!(parse_filter(&f.to_string()).ok(), Some(f)),
        Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidFilter))),
    }
});
