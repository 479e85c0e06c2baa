//! Sign-in: SAML configuration, the requests Roster issued, one-time
//! assertions, just-in-time accounts, sessions and bootstrap login links.
//! The protocol checks are `saml`'s; what needs state is decided here, in
//! one transaction, so a refused sign-in leaves nothing behind.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::ResourceView;
use super::model::{Actor, Org, SamlSettings, Session, SignInOutcome, SignInPurpose};
use super::orgs::find_org;
use super::query::fold;
use super::resources::{insert, view};
use super::sign_in_ticket::{self, Ticket};
use super::store::WriteTx;
use super::tokens::{hash_token, random_secret};
use super::{Directory, DirectoryError, DirectoryResult};
use crate::saml::{IdpConfig, VerifiedAssertion};
use crate::scim::resource::{self, format_time};
use crate::scim::schema::ResourceType;

/// How long an AuthnRequest may go unanswered: the person signs in at the
/// IdP meanwhile, perhaps with a second factor.
pub const REQUEST_LIFETIME: Duration = Duration::from_secs(600);

/// Where the server keeps its key for sign-in tickets.
const TICKET_KEY: &str = "sign_in_ticket_key";

/// Prefixes that tell the secrets apart in logs and secret scanners.
const SESSION_PREFIX: &str = "roster_session_";
const LOGIN_LINK_PREFIX: &str = "roster_login_";

/// The bootstrap administrator's name in sessions and logs.
pub const BOOTSTRAP_ADMIN: &str = "bootstrap administrator";

/// A session just begun: the secret goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub session: Session,
}

/// The outcome of a successful SAML sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub new_session: NewSession,
    pub user: ResourceView,
    /// The user was created by this sign-in (just-in-time).
    pub created: bool,
    pub purpose: SignInPurpose,
}

fn at(t: DateTime<Utc>) -> String {
    format_time(t)
}

fn later(now: DateTime<Utc>, d: Duration) -> String {
    at(now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero()))
}

/// Whether a stored time is still in the future.
fn unexpired(now: DateTime<Utc>, expires: &str) -> bool {
    DateTime::parse_from_rfc3339(expires).is_ok_and(|e| e.with_timezone(&Utc) > now)
}

fn refused(detail: String) -> DirectoryError {
    DirectoryError::Forbidden(detail)
}

fn start_session(
    tx: &mut dyn WriteTx,
    now: DateTime<Utc>,
    org_id: &str,
    user_id: Option<String>,
    subject: String,
    method: &str,
    lifetime: Duration,
) -> DirectoryResult<NewSession> {
    let secret = random_secret(SESSION_PREFIX);
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org_id.to_string(),
        user_id,
        subject,
        method: method.to_string(),
        created: at(now),
        expires: later(now, lifetime),
    };
    tx.insert_session(&hash_token(&secret), &session)?;
    Ok(NewSession { secret, session })
}

/// The SCIM document of a just-in-time user, from the attribute
/// statements the Okta and Entra guides configure (`first_name`,
/// `last_name`, `email`; docs/saml.md, "What a sign-in checks").
fn jit_user(a: &VerifiedAssertion) -> DirectoryResult<resource::Document> {
    let body = resource::user_request(
        &a.name_id,
        a.attribute("first_name"),
        a.attribute("last_name"),
        a.attribute("email"),
    );
    Ok(resource::from_request(ResourceType::User, &body)?)
}

fn is_active(user: &ResourceView) -> bool {
    user.stored.is_active()
}

impl Directory {
    /// An org and its SAML configuration, if any.
    pub async fn saml_settings(&self, org: &str) -> DirectoryResult<(Org, Option<SamlSettings>)> {
        let org = org.to_string();
        self.read_indexed(move |tx| {
            let o = find_org(tx, &org)?;
            let s = tx.saml_settings(&o.id)?;
            Ok((o, s))
        })
        .await
    }

    /// Configures (or reconfigures) an org's IdP. A configuration without
    /// a signing certificate is refused (`IdpConfig::validate`).
    pub async fn set_saml(
        &self,
        by: &Actor,
        org: &str,
        idp: IdpConfig,
        metadata_url: Option<String>,
    ) -> DirectoryResult<(Org, SamlSettings)> {
        let now = self.clock.now();
        idp.validate()
            .map_err(|e| DirectoryError::InvalidValue(e.to_string()))?;
        let (org, by) = (org.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let s = SamlSettings {
                idp: idp.clone(),
                metadata_url: metadata_url.clone(),
                updated: at(now),
            };
            tx.put_saml_settings(&o.id, Some(&s))?;
            let detail = format!(
                "IdP {} (SSO URL {}, {} signing certificate(s))",
                idp.entity_id,
                idp.sso_url,
                idp.certificates.len()
            );
            super::audit::record_as(tx, &o.id, &by, &s.updated, "saml.set", &o.name, detail)?;
            Ok((o, s))
        })
        .await
    }

    /// Turns SAML off for an org; false if it was not on.
    pub async fn disable_saml(&self, by: &Actor, org: &str) -> DirectoryResult<bool> {
        let now = self.now();
        let (org, by) = (org.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let had = tx.saml_settings(&o.id)?.is_some();
            tx.put_saml_settings(&o.id, None)?;
            if had {
                let detail = "SAML sign-in turned off".to_string();
                super::audit::record_as(tx, &o.id, &by, &now, "saml.disable", &o.name, detail)?;
            }
            Ok(had)
        })
        .await
    }

    /// The ticket for an AuthnRequest Roster is about to send: the browser
    /// carries it to the ACS, where only the answer to this request is
    /// accepted, once (see `sign_in_ticket`). Nothing is stored.
    pub async fn sign_in_ticket(
        &self,
        org_id: &str,
        request_id: &str,
        purpose: SignInPurpose,
    ) -> DirectoryResult<String> {
        let key = self.ticket_key().await?;
        let ticket = Ticket {
            request_id: request_id.to_string(),
            purpose,
            expires: self.clock.now().timestamp() + REQUEST_LIFETIME.as_secs() as i64,
        };
        sign_in_ticket::issue(&key, org_id, &ticket).ok_or_else(|| {
            DirectoryError::Store(super::store::StoreError::Corrupt(
                "the sign-in ticket key is unusable".into(),
            ))
        })
    }

    /// The server's key for sign-in tickets: made once, kept in the store
    /// (so that replicas sharing a database share it), cached here.
    async fn ticket_key(&self) -> DirectoryResult<Vec<u8>> {
        if let Some(k) = self.ticket_key.get() {
            return Ok(k.clone());
        }
        let fresh = random_secret("roster_ticket_key_");
        let key = self
            .write(move |tx| {
                if let Some(k) = tx.server_setting(TICKET_KEY)? {
                    return Ok(k);
                }
                tx.put_server_setting(TICKET_KEY, &fresh)?;
                Ok(fresh.clone())
            })
            .await?;
        let key = key.into_bytes();
        let _ = self.ticket_key.set(key.clone());
        Ok(key)
    }

    /// Signs in the person a verified assertion names: the request it
    /// answers is consumed, its id is used up, the user is matched by
    /// userName (the NameID) or created just in time, and a session
    /// begins. All or nothing: a refusal changes nothing.
    pub async fn sign_in(
        &self,
        org_id: &str,
        assertion: VerifiedAssertion,
        ticket: Option<String>,
        allow_idp_initiated: bool,
        session_lifetime: Duration,
    ) -> DirectoryResult<SignedIn> {
        let now = self.clock.now();
        let now_text = at(now);
        let org_id = org_id.to_string();
        let key = self.ticket_key().await?;
        self.write(move |tx| {
            let o = find_org(tx, &org_id)?;
            // Expired assertion ids, answered requests, sessions and links
            // go as sign-ins come (kept with the sign-in if it succeeds).
            tx.prune_sign_in_state(&now_text)?;
            let purpose = match &assertion.in_response_to {
                Some(id) => {
                    let ticket = ticket
                        .as_deref()
                        .ok_or("this browser holds no sign-in cookie: it did not start this sign-in at Roster, or its cookies are blocked")
                        .and_then(|t| sign_in_ticket::open(&key, t, &o.id, now.timestamp()))
                        .map_err(|why| {
                            refused(format!(
                                "the response answers a sign-in request (InResponseTo \"{id}\") that this browser cannot show it started: {why}. \
                                 Start again from Roster's sign-in page (sign-ins expire after {} minutes)",
                                REQUEST_LIFETIME.as_secs() / 60
                            ))
                        })?;
                    if ticket.request_id != *id {
                        return Err(refused(format!(
                            "the response answers a request (InResponseTo \"{id}\") other than the one this browser started; start again"
                        )));
                    }
                    // Each request is answered once.
                    let until = at(DateTime::from_timestamp(ticket.expires, 0).unwrap_or(now));
                    if !tx.remember_assertion(&o.id, &format!("request {id}"), &until)? {
                        return Err(refused(format!(
                            "the request \"{id}\" was already answered; each works once. Start again"
                        )));
                    }
                    ticket.purpose
                }
                None if allow_idp_initiated => SignInPurpose::SignIn,
                None => {
                    return Err(refused(
                        "IdP-initiated sign-in is off for this org: start from Roster's sign-in page, \
                         or turn it on with `roster saml set ORG --allow-idp-initiated on`"
                            .into(),
                    ));
                }
            };
            if !tx.remember_assertion(&o.id, &assertion.assertion_id, &at(assertion.valid_until))? {
                return Err(refused(format!(
                    "this assertion (id \"{}\") was already used; each works once. Sign in again",
                    assertion.assertion_id
                )));
            }
            super::identifiers::check_identifier("the NameID", &assertion.name_id)
                .map_err(|e| refused(e.to_string()))?;
            let existing = tx.resource_by_name(&o.id, ResourceType::User, &fold(&assertion.name_id))?;
            let (user, created) = match existing {
                Some(stored) => (view(tx, &o.id, stored, false)?, false),
                None if o.settings.jit => {
                    let doc = jit_user(&assertion)?;
                    (insert(tx, &o.id, &now_text, ResourceType::User, doc, &[])?, true)
                }
                None => {
                    return Err(refused(format!(
                        "there is no account for \"{}\" in this org, and just-in-time accounts are off: \
                         have the IdP provision the person over SCIM, or turn them on with `roster org set {} --jit on`",
                        assertion.name_id, o.name
                    )));
                }
            };
            if !is_active(&user) {
                return Err(refused(format!(
                    "the account \"{}\" is deactivated; ask your IdP administrator to assign you to the application again",
                    assertion.name_id
                )));
            }
            let user_name = user
                .stored
                .doc
                .get("userName")
                .and_then(Value::as_str)
                .unwrap_or(&assertion.name_id)
                .to_string();
            let new_session = start_session(
                tx,
                now,
                &o.id,
                Some(user.stored.id.clone()),
                user_name,
                "saml",
                session_lifetime,
            )?;
            Ok(SignedIn {
                new_session,
                user,
                created,
                purpose,
            })
        })
        .await
    }

    /// The live session a cookie's secret names: not ended, not expired,
    /// and its user still exists and is active (deactivation ends access
    /// at once, not at the session's expiry).
    pub async fn session(&self, secret: &str) -> DirectoryResult<Option<(Org, Session)>> {
        let now = self.clock.now();
        let hash = hash_token(secret);
        self.read_indexed(move |tx| {
            let Some(s) = tx.session(&hash)? else {
                return Ok(None);
            };
            if !unexpired(now, &s.expires) {
                return Ok(None);
            }
            let Some(o) = tx.org(&s.org_id)? else {
                return Ok(None);
            };
            if let Some(uid) = &s.user_id {
                let alive = tx
                    .resource(&o.id, ResourceType::User, uid)?
                    .is_some_and(|u| u.is_active());
                if !alive {
                    return Ok(None);
                }
            }
            Ok(Some((o, s)))
        })
        .await
    }

    /// Records how a sign-in of a verified response ended (the subject is
    /// the IdP's NameID), for `roster explain`. Wakes no feed waiter.
    pub async fn record_sign_in_outcome(
        &self,
        org_id: &str,
        subject: &str,
        ok: bool,
        detail: String,
    ) -> DirectoryResult<()> {
        let (org_id, key) = (org_id.to_string(), fold(subject));
        let outcome = SignInOutcome {
            at: self.now(),
            ok,
            detail,
        };
        self.write_quietly(move |tx| Ok(tx.put_sign_in_outcome(&org_id, &key, &outcome)?))
            .await
    }

    /// The last sign-in and the last refusal of whichever of `subjects`
    /// (a person's userName and emails) signed in: (sign-in, refusal).
    pub async fn last_sign_ins(
        &self,
        org_id: &str,
        subjects: Vec<String>,
    ) -> DirectoryResult<(Option<SignInOutcome>, Option<SignInOutcome>)> {
        let org_id = org_id.to_string();
        self.read(move |tx| {
            let mut all = Vec::new();
            for s in &subjects {
                all.extend(tx.sign_in_outcomes(&org_id, &fold(s))?);
            }
            let newest = |ok: bool| {
                all.iter()
                    .filter(|o| o.ok == ok)
                    .max_by(|a, b| a.at.cmp(&b.at))
                    .cloned()
            };
            Ok((newest(true), newest(false)))
        })
        .await
    }

    /// Ends the session a secret names; false when none was live.
    pub async fn end_session(&self, secret: &str) -> DirectoryResult<bool> {
        let hash = hash_token(secret);
        let now = self.now();
        self.write(move |tx| Ok(tx.end_session(&hash, &now)?)).await
    }

    /// An org's live sessions, newest first.
    pub async fn list_sessions(&self, org: &str) -> DirectoryResult<(Org, Vec<Session>)> {
        let now = self.clock.now();
        let org = org.to_string();
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            let live = tx
                .sessions(&o.id)?
                .into_iter()
                .filter(|s| unexpired(now, &s.expires))
                .collect();
            Ok((o, live))
        })
        .await
    }

    /// Ends one session of an org (by its id) or, with `None`, all of them.
    pub async fn end_sessions(
        &self,
        by: &Actor,
        org: &str,
        id: Option<String>,
    ) -> DirectoryResult<u64> {
        let now = self.now();
        let (org, by) = (org.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let n = tx.end_sessions(&o.id, id.as_deref(), &now)?;
            if n == 0
                && let Some(id) = &id
            {
                return Err(DirectoryError::NotFound(format!(
                    "no live session \"{id}\" in \"{}\"; `roster session list {}` shows them",
                    o.name, o.name
                )));
            }
            if n > 0 {
                let (target, detail) = match &id {
                    Some(id) => (id.clone(), "ended".to_string()),
                    None => (o.name.clone(), format!("all {n} live session(s) ended")),
                };
                super::audit::record_as(tx, &o.id, &by, &now, "session.end", &target, detail)?;
            }
            Ok(n)
        })
        .await
    }

    /// A one-time login link for the org's bootstrap administrator, valid
    /// for `lifetime`: the way in before SAML is configured.
    pub async fn create_login_link(
        &self,
        by: &Actor,
        org: &str,
        lifetime: Duration,
    ) -> DirectoryResult<(Org, String, String)> {
        let now = self.clock.now();
        let (org, by) = (org.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let secret = random_secret(LOGIN_LINK_PREFIX);
            let expires = later(now, lifetime);
            tx.insert_login_link(&hash_token(&secret), &o.id, &at(now), &expires)?;
            let detail = format!("one-time administrator login link, valid until {expires}");
            super::audit::record_as(
                tx,
                &o.id,
                &by,
                &at(now),
                "login_link.create",
                &o.name,
                detail,
            )?;
            Ok((o, secret, expires))
        })
        .await
    }

    /// Uses up a login link and begins the bootstrap administrator's session.
    pub async fn redeem_login_link(
        &self,
        secret: &str,
        session_lifetime: Duration,
    ) -> DirectoryResult<(Org, NewSession)> {
        let now = self.clock.now();
        let hash = hash_token(secret);
        self.write(move |tx| {
            let invalid = || {
                refused(
                    "this login link is not valid: it was already used, it expired, or it was never issued. \
                     Create a new one with `roster admin login-link ORG`"
                        .into(),
                )
            };
            let (org_id, expires) = tx.take_login_link(&hash)?.ok_or_else(invalid)?;
            if !unexpired(now, &expires) {
                return Err(invalid());
            }
            let o = tx.org(&org_id)?.ok_or_else(invalid)?;
            let s = start_session(
                tx,
                now,
                &o.id,
                None,
                BOOTSTRAP_ADMIN.into(),
                "login-link",
                session_lifetime,
            )?;
            Ok((o, s))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::directory::scratch::with_directory;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_session_lives_its_lifetime_and_not_a_second_more() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let (_, link, _) = d
                .create_login_link(&crate::directory::scratch::tester(), "acme", 15 * MINUTE)
                .await
                .unwrap();
            let (o, s) = d
                .redeem_login_link(&link, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(o.name, "acme");
            assert_eq!(s.session.subject, BOOTSTRAP_ADMIN);
            d.clock().advance(Duration::from_millis(4_900)).unwrap();
            assert!(d.session(&s.secret).await.unwrap().is_some(), "live");
            assert_eq!(d.list_sessions("acme").await.unwrap().1.len(), 1);
            d.clock().advance(Duration::from_millis(200)).unwrap();
            assert!(d.session(&s.secret).await.unwrap().is_none(), "expired");
            assert!(d.list_sessions("acme").await.unwrap().1.is_empty());
        });
    }

    #[test]
    fn a_login_link_works_once_and_only_until_it_expires() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let (_, once, _) = d
                .create_login_link(&crate::directory::scratch::tester(), "acme", 15 * MINUTE)
                .await
                .unwrap();
            d.redeem_login_link(&once, MINUTE).await.unwrap();
            let again = d.redeem_login_link(&once, MINUTE).await;
            assert!(matches!(again, Err(DirectoryError::Forbidden(_))));

            let (_, late, _) = d
                .create_login_link(&crate::directory::scratch::tester(), "acme", 15 * MINUTE)
                .await
                .unwrap();
            d.clock()
                .advance(15 * MINUTE + Duration::from_secs(1))
                .unwrap();
            let expired = d.redeem_login_link(&late, MINUTE).await;
            assert!(matches!(expired, Err(DirectoryError::Forbidden(_))));
            assert!(
                d.redeem_login_link("roster_link_nonsense", MINUTE)
                    .await
                    .is_err()
            );
        });
    }

    #[test]
    fn ending_sessions_ends_them_at_once() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let mut secrets = Vec::new();
            for _ in 0..3 {
                let (_, link, _) = d
                    .create_login_link(&crate::directory::scratch::tester(), "acme", MINUTE)
                    .await
                    .unwrap();
                secrets.push(d.redeem_login_link(&link, MINUTE).await.unwrap().1);
            }
            assert!(d.end_session(&secrets[0].secret).await.unwrap());
            assert!(!d.end_session(&secrets[0].secret).await.unwrap(), "once");
            assert!(d.session(&secrets[0].secret).await.unwrap().is_none());
            let one = Some(secrets[1].session.id.clone());
            assert_eq!(
                d.end_sessions(&crate::directory::scratch::tester(), "acme", one)
                    .await
                    .unwrap(),
                1
            );
            assert!(d.session(&secrets[2].secret).await.unwrap().is_some());
            assert_eq!(
                d.end_sessions(&crate::directory::scratch::tester(), "acme", None)
                    .await
                    .unwrap(),
                1
            );
            assert!(d.session(&secrets[2].secret).await.unwrap().is_none());
        });
    }
}
