//! Any text given as IdP metadata is read or refused with a message;
//! nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::saml::metadata::parse_idp_metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = parse_idp_metadata(text) {
        assert!(!e.to_string().is_empty());
    }
});
