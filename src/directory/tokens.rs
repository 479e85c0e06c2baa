//! SCIM bearer tokens: random, shown once, stored as a hash, revocable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::model::{Access, Actor, Principal, TokenRecord};
use super::orgs::find_org;
use super::{Directory, DirectoryError, DirectoryResult};

/// Prefix of every SCIM token, so that secret scanners recognise them.
pub const TOKEN_PREFIX: &str = "roster_scim_";

/// A token is stored only as SHA-256 of its secret: the secret has 256
/// bits of entropy, so a slow hash would add nothing.
pub fn hash_token(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn new_secret() -> String {
    random_secret(TOKEN_PREFIX)
}

/// 256 random bits, URL-safe, after `prefix`.
pub(crate) fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How often a token's last-used time is written at most: recording every
/// request would turn every read into a write.
const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

/// When each token's last-used time was last written, so that it is
/// written at most once per [`LAST_USED_RESOLUTION`].
#[derive(Default)]
pub(crate) struct TokenTouches(Mutex<HashMap<String, Instant>>);

impl TokenTouches {
    fn due(&self, token_id: &str) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        let now = Instant::now();
        match map.get(token_id) {
            Some(t) if now.duration_since(*t) < LAST_USED_RESOLUTION => false,
            _ => {
                map.insert(token_id.to_string(), now);
                true
            }
        }
    }
}

impl Directory {
    /// Creates a token and returns it with its secret, which is not stored.
    pub async fn create_token(
        &self,
        by: &Actor,
        org: &str,
        name: &str,
    ) -> DirectoryResult<(TokenRecord, String)> {
        let now = self.now();
        let name = name.trim().to_string();
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(DirectoryError::InvalidValue(
                "a token name must be 1 to 128 printable characters, such as \"Okta\"".into(),
            ));
        }
        let (org, by) = (org.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let secret = new_secret();
            let rec = TokenRecord {
                id: uuid::Uuid::new_v4().to_string(),
                org_id: o.id,
                name: name.clone(),
                hash: hash_token(&secret),
                created: now.clone(),
                last_used: None,
                revoked: None,
                cluster_id: None,
            };
            tx.insert_token(&rec)?;
            let detail = format!("SCIM token {}", rec.id);
            super::audit::record_as(
                tx,
                &rec.org_id,
                &by,
                &now,
                "token.create",
                &rec.name,
                detail,
            )?;
            Ok((rec, secret))
        })
        .await
    }

    pub async fn list_tokens(&self, org: &str) -> DirectoryResult<Vec<TokenRecord>> {
        let org = org.to_string();
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            Ok(tx.tokens(&o.id)?)
        })
        .await
    }

    pub async fn revoke_token(&self, by: &Actor, org: &str, token_id: &str) -> DirectoryResult<()> {
        let now = self.now();
        let (org, by) = (org.to_string(), by.clone());
        let token_id = token_id.to_string();
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let name = tx
                .tokens(&o.id)?
                .into_iter()
                .find(|t| t.id == token_id)
                .map(|t| t.name);
            if tx.revoke_token(&o.id, &token_id, &now)? {
                let name = name.unwrap_or_else(|| token_id.clone());
                let detail = format!("token {token_id}");
                super::audit::record_as(tx, &o.id, &by, &now, "token.revoke", &name, detail)?;
                Ok(())
            } else {
                Err(DirectoryError::NotFound(format!(
                    "no active token {token_id} in \"{}\"; `roster token list {}` shows them",
                    o.name, o.name
                )))
            }
        })
        .await
    }

    /// Checks a bearer token for an org. The same answer is given for an
    /// unknown org and a wrong token, so a caller learns nothing about
    /// which orgs exist.
    pub async fn authenticate(&self, org: &str, secret: &str) -> DirectoryResult<Principal> {
        let org = org.to_string();
        let hash = hash_token(secret);
        let principal = self
            .read_indexed(move |tx| {
                let denied = || {
                    DirectoryError::Unauthenticated(
                        "the bearer token is not valid for this organization; create one with `roster token create ORG --name NAME`".into(),
                    )
                };
                let o = tx.org(&org)?.ok_or_else(denied)?;
                let t = tx.token_by_hash(&hash)?.ok_or_else(denied)?;
                let same: bool = t.hash.ct_eq(&hash).into();
                if !same || t.org_id != o.id || t.revoked.is_some() {
                    return Err(denied());
                }
                // A cluster's token reads; the IdP's writes (while
                // Automated User Provisioning is on).
                let access = if t.cluster_id.is_some() {
                    Access::Viewer
                } else {
                    Access::Admin
                };
                Ok(Principal {
                    org: o,
                    token_id: t.id,
                    token_name: t.name,
                    via_scim: true,
                    cluster_id: t.cluster_id,
                    access,
                    user_id: None,
                    origin: String::new(),
                })
            })
            .await?;
        if self.token_touches.due(&principal.token_id) {
            let id = principal.token_id.clone();
            // Fire and forget: a lost last-used time is no reason to fail
            // the request.
            let dir = self.clone();
            let now = self.now();
            tokio::spawn(async move {
                let _ = dir.write(move |tx| Ok(tx.touch_token(&id, &now)?)).await;
            });
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::directory::scratch::with_directory;

    #[test]
    fn a_token_opens_its_own_org_only_until_it_is_revoked() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            d.create_org("globex", false).await.unwrap();
            for bad in ["", "  ", "a\nb", &"x".repeat(129)] {
                let e = d
                    .create_token(&crate::directory::scratch::tester(), "acme", bad)
                    .await;
                assert!(matches!(e, Err(DirectoryError::InvalidValue(_))), "{bad:?}");
            }
            let (t, secret) = d
                .create_token(&crate::directory::scratch::tester(), "acme", "Okta")
                .await
                .unwrap();
            assert_ne!(t.hash, secret.as_bytes(), "the secret is not stored");
            let p = d.authenticate("acme", &secret).await.unwrap();
            assert_eq!((p.token_name.as_str(), p.via_scim), ("Okta", true));
            assert!(p.cluster_id.is_none());
            for (org, s) in [("globex", secret.as_str()), ("acme", "roster_wrong")] {
                let e = d.authenticate(org, s).await;
                assert!(
                    matches!(e, Err(DirectoryError::Unauthenticated(_))),
                    "{org}"
                );
            }
            d.revoke_token(&crate::directory::scratch::tester(), "acme", &t.id)
                .await
                .unwrap();
            let e = d.authenticate("acme", &secret).await;
            assert!(matches!(e, Err(DirectoryError::Unauthenticated(_))));
            let again = d
                .revoke_token(&crate::directory::scratch::tester(), "globex", &t.id)
                .await;
            assert!(matches!(again, Err(DirectoryError::NotFound(_))));
            let listed = d.list_tokens("acme").await.unwrap();
            assert!(listed.iter().all(|t| t.revoked.is_some()));
        });
    }
}
