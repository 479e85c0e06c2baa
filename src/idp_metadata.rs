//! Fetching an IdP's metadata over HTTP, for `roster saml set
//! --metadata-url` and the console's "Metadata URL" (Entra's App
//! Federation Metadata URL). Fetched once, when configured; not refreshed.

use std::time::Duration;

use crate::saml::metadata::MAX_METADATA_BYTES;

/// The metadata document at `url`. `what` names the URL to the person
/// (a flag or a field) and `instead` the way around a failure.
pub async fn fetch(url: &str, what: &str, instead: &str) -> Result<String, String> {
    crate::saml::config::check_http_url(url, what).map_err(|e| e.to_string())?;
    let fail = |e: String| {
        format!("cannot fetch the metadata from {url}: {e}. Download it and use {instead} instead")
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let bytes = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(fail(format!("larger than {MAX_METADATA_BYTES} bytes")));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| fail("not UTF-8 text".into()))
}
