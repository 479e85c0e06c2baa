//! The agent's side of the cluster API: conditional GETs of the feed
//! and the snapshot (304, and 226 deltas), its reports sent as headers,
//! and failures put in words that say what to do.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{AgentConfig, AgentError};
use crate::api_v1::{ApiError, SnapshotDelta};

pub(super) struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
    node: String,
    /// Whether this agent manages the cluster's Slurm accounts (told to
    /// the server, for `roster cluster status` and `roster explain`).
    slurm: bool,
}

/// An error as a header value: printable ASCII, bounded (the server keeps
/// 300 characters of it).
fn error_header(error: &str) -> String {
    error
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .take(300)
        .collect()
}

impl Client {
    /// The client of `cfg`'s server: its token, node name, and the CAs it
    /// trusts (the system's, the bundled roots, and `--ca-file`).
    pub(super) fn new(cfg: &AgentConfig) -> Result<Client, AgentError> {
        let mut http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120));
        if let Some(pem) = &cfg.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                AgentError::Server(format!("the --ca-file is not PEM certificates: {e}"))
            })?;
            for c in certs {
                http = http.add_root_certificate(c);
            }
        }
        let http = http
            .build()
            .map_err(|e| AgentError::Server(e.to_string()))?;
        Ok(Client {
            http,
            base: cfg.server.trim_end_matches('/').to_string(),
            token: cfg.token.clone(),
            node: cfg.node_name.clone(),
            slurm: cfg.slurm_cluster.is_some(),
        })
    }

    /// GETs a cluster API body of type `T` (`api_v1`); a body that is
    /// not one is refused, saying so, rather than read as empty.
    /// `last_error`: the agent's, reported to the server with the request.
    pub(super) fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
        last_error: Option<&str>,
    ) -> Result<T, AgentError> {
        match self.get_if_changed::<T>(path, timeout, last_error, None, false)? {
            Fetched::Changed(body, _) => Ok(body),
            Fetched::Unchanged(_) | Fetched::Delta(..) => Err(AgentError::Server(format!(
                "{path}: 304 or 226 to a request that asked for neither"
            ))),
        }
    }

    /// GETs `path`; with `etag`, a 304 says the body is unchanged (and its
    /// position, in `X-Roster-Seq`); with `delta` too, the server may
    /// answer 226 with what changed since (RFC 3229).
    pub(super) fn get_if_changed<T: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
        last_error: Option<&str>,
        etag: Option<&str>,
        delta: bool,
    ) -> Result<Fetched<T>, AgentError> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .header(crate::api_v1::NODE_HEADER, &self.node)
            .timeout(timeout);
        if let Some(e) = last_error {
            req = req.header(crate::api_v1::ERROR_HEADER, error_header(e));
        }
        if self.slurm {
            req = req.header(crate::api_v1::SLURM_HEADER, "yes");
        }
        if let Some(t) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, t);
            if delta {
                req = req.header("a-im", crate::api_v1::DELTA_IM);
            }
        }
        let resp = req
            .send()
            .map_err(|e| AgentError::Server(describe(&self.base, &e)))?;
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (new_etag, seq) = (header("etag"), header(crate::api_v1::SEQ_HEADER));
        let retry_after = header(reqwest::header::RETRY_AFTER.as_str());
        if status == reqwest::StatusCode::NOT_MODIFIED {
            let seq = seq.and_then(|s| s.parse().ok()).ok_or_else(|| {
                AgentError::Server(format!(
                    "{url}: 304 without its position ({})",
                    crate::api_v1::SEQ_HEADER
                ))
            })?;
            return Ok(Fetched::Unchanged(seq));
        }
        let bytes = resp
            .bytes()
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if !status.is_success() {
            let why = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            let retry_after = retry_after.and_then(|v| v.trim().parse::<u64>().ok());
            if let (Some(secs), true) = (
                retry_after,
                status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
            ) {
                // At most a few minutes, whatever the header says.
                let pause = Duration::from_secs(secs.clamp(1, 300));
                return Err(AgentError::Busy(pause, format!("{status}: {why}")));
            }
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(AgentError::Refused(format!(
                    "wrong token: the server does not know the cluster token in --token-file ({status}: {why}); \
                     create one with `roster cluster token create ORG CLUSTER` and put it there"
                )));
            }
            return Err(AgentError::Refused(format!("{status}: {why}")));
        }
        let unreadable = |e: serde_json::Error| {
            AgentError::Server(format!(
                "{url} answered with a body this agent cannot read ({e}); is the server a matching version of Roster?"
            ))
        };
        if status == reqwest::StatusCode::IM_USED {
            return serde_json::from_slice(&bytes)
                .map(|d| Fetched::Delta(d, new_etag))
                .map_err(unreadable);
        }
        serde_json::from_slice(&bytes)
            .map(|body| Fetched::Changed(body, new_etag))
            .map_err(unreadable)
    }
}

/// A conditional GET's answer.
pub(super) enum Fetched<T> {
    /// The body, and its entity tag.
    Changed(T, Option<String>),
    /// 304: what the agent has is current, at this position.
    Unchanged(i64),
    /// 226: what changed since the version the agent has, and the new
    /// version's entity tag.
    Delta(SnapshotDelta, Option<String>),
}

/// A failed request in words that say what to do: a refused connection, a
/// certificate from an unknown CA or for another name, or else the error's
/// whole chain.
fn describe(server: &str, e: &reqwest::Error) -> String {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let lower = chain.to_lowercase();
    if lower.contains("connection refused") {
        format!(
            "connection refused by {server}: is `roster serve` running there, and its port open to this node? ({chain})"
        )
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        format!(
            "TLS: unknown CA: {server}'s certificate is not signed by a CA this node trusts; give the site CA with --ca-file, or add it to the system store ({chain})"
        )
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        format!(
            "TLS: {server}'s certificate is not for that host name; use in --server a name the certificate names ({chain})"
        )
    } else if lower.contains("invalid peer certificate") || lower.contains("tls handshake") {
        format!("TLS: {chain}")
    } else {
        format!("{server}: {chain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fit_a_header() {
        assert_eq!(error_header("a\nb\u{e9}"), "a b?");
        assert_eq!(error_header(&"x".repeat(400)).len(), 300);
    }
}
