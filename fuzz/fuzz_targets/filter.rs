//! Any input either parses into a filter that prints back to an equal tree
//! (when the printed form is within the length limit: printing may escape
//! what the input held raw), or is refused with 400 invalidFilter; nothing
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::scim::ScimType;
use roster::scim::filter::{MAX_FILTER_LEN, parse_filter};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_filter(text) {
        Ok(f) => {
            let printed = f.to_string();
            if printed.len() <= MAX_FILTER_LEN {
                assert_eq!(parse_filter(&printed).ok(), Some(f));
            }
        }
        Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidFilter))),
    }
});
