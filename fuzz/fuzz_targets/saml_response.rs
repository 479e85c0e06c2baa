//! Any text posted as a SAML Response is refused (no input the fuzzer can
//! make carries a valid signature of the configured key), and nothing
//! panics: not the shape check, not libxmlsec1 through samael, not the
//! summary the refusal page shows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::saml::response::{summarize_unverified, verify};
use roster::saml::{Certificate, IdpConfig, SpEndpoints};

/// A throw-away self-signed certificate (public; its key is gone).
const CERT: &str = "MIIDDzCCAfegAwIBAgIUcbjHqH2wmpo+o9uRyAxpUC+VJTMwDQYJKoZIhvcNAQELBQAwFzEVMBMGA1UEAwwMaWRwLmlkcC50ZXN0MB4XDTI2MTEyMjE4NDgxNloXDTI2MTIyMjE4NDgxNlowFzEVMBMGA1UEAwwMaWRwLmlkcC50ZXN0MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlZiUwFijlebg3DbUnWnWBfzmDpEv5sjKK2rMO/geSWryiXRmrxdqgIk6xJrqqPM7MR7P7sHCK8NObF6bS9My8s5HyvRoF1S2CbdCF9oEVVqVAU2h08vJ076+OPg2W9G3fgMoyVdJmuo6vvpDYDKn1QnGA4PFEI/jCOSLaCOLdR7QUFihM7R7ydh7EnXpWNIJ0dMHsPDK5mv+gG6gGsCTqhAN8hrzOYjxrORk4lGmffscwpe/6EnMMs+sE4toPTXheXk5wuWMUELKODTn61oIIAhuNkt0bUfOtGKT4otO1r2hHcod+yJv5w5EN3mdMjEQJZsOlZ9DT8XPMdgrM5cFbwIDAQABo1MwUTAdBgNVHQ4EFgQUvba2ylnqQnLpipX3BPjANI6lnrowHwYDVR0jBBgwFoAUvba2ylnqQnLpipX3BPjANI6lnrowDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAeJoENqbVK55AjjSi5/QCvjIn8VmuKQFWlK5norxRm6redApj1FbFRSmPzo3CGv3qPoSi++S91dMhlUtqI9889Asv6mcd0j4N1ic/PlG694r0j/UENASwkVDhx3KuHVOHbVnslybZstczXv0r3P0/q5tRMJlM0alGvaIOxFnYEZltJ9aMbcTJbZLL8l18v5liuSDWhEotqQAanOY2UTRSt9rs9OTK58IIf6NHf3OqZ302tOGL48ux824W0t8tYbewilLEtDwAPyilRu84pM8G5TiZ+B5OCktOGh7BBU7XP2uaG3h61+xjd8D+8GoXDa+y1eAGHcwBCMnmJOyGeWnNrw==";

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else { return };
    let Ok(cert) = Certificate::from_base64(CERT) else { return };
    let idp = IdpConfig {
        entity_id: "https://idp.example".into(),
        sso_url: "https://idp.example/sso".into(),
        certificates: vec![cert],
        require_signed_assertion: false,
        allow_idp_initiated: true,
    };
    let sp = SpEndpoints::for_org("https://roster.example", "org");
    assert!(verify(xml, &idp, &sp).is_err());
    let _ = summarize_unverified(xml);
});
