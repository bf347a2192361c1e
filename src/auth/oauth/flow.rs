//! The account rules of OAuth login, over the store: start a flow, take the provider's callback
//! (login or link), finish a login with a one-time ticket (and the second factor when the account
//! has 2FA on), list and unlink identities. Blocking: call from a blocking thread.
//!
//! Linking by address: a provider login whose verified address matches an account whose address
//! was itself verified by a provider is linked to it. An address typed in at registration is never
//! verified by Veza, so matching it would let whoever registered it first take over the provider
//! user's account, and refusing would let them block it: the provider user gets an account of
//! their own and the typed address is taken off the other account (audited `email.released`). The
//! owner of such an account links providers from it (log in, then link).

use super::{providers, ProviderIdentity};
use crate::auth::service::{AuthService, ClientInfo, Issued};
use crate::auth::{opaque, validation, AuthError, Role};
use crate::config::oauth::Provider;
use crate::db::oauth::{self as store, Flow, Identity, NewIdentity};
use crate::db::users::{self, NewUser, User};
use crate::db::DbConnection;
use diesel::Connection;
use serde_json::json;
use veza_actors::ids::now_ms;
use veza_actors::UserId;

/// A flow must come back from the provider within this time.
const FLOW_TTL_MS: i64 = 10 * 60 * 1000;
/// A login ticket must be redeemed (with the second factor, if any) within this time.
const TICKET_TTL_MS: i64 = 5 * 60 * 1000;

const KIND_LOGIN: &str = "login";
const KIND_LINK: &str = "link";
const KIND_TICKET: &str = "ticket";

/// Where to send the browser, and the `state` to bind to it (cookie).
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub state: String,
}

/// What a callback did.
#[derive(Debug)]
pub enum Callback {
    /// Logged in: redeem this one-time ticket at `POST /api/v2/auth/oauth/complete`.
    Ticket(String),
    /// The provider account is now linked to the user who started the flow.
    Linked(Provider),
}

/// How a user can log in.
#[derive(Debug)]
pub struct LoginMethods {
    pub has_password: bool,
    pub identities: Vec<Identity>,
}

impl AuthService {
    /// Begins a login (`link_user: None`) or the linking of a provider to `link_user`.
    pub fn oauth_start(
        &self,
        provider: Provider,
        link_user: Option<UserId>,
    ) -> Result<Started, AuthError> {
        let config = self.provider(provider)?;
        let (state, state_hash) = opaque::generate();
        let (verifier, _) = opaque::generate();
        let nonce = (provider == Provider::Google).then(|| opaque::generate().0);
        let now = now_ms() as i64;
        let mut conn = self.pool.get()?;
        store::insert_flow(
            &mut conn,
            &Flow {
                state_hash,
                kind: if link_user.is_some() {
                    KIND_LINK
                } else {
                    KIND_LOGIN
                }
                .into(),
                provider: provider.as_str().into(),
                pkce_verifier: verifier.clone(),
                nonce: nonce.clone(),
                user_id: link_user,
                created_at: now,
                expires_at: now + FLOW_TTL_MS,
            },
        )?;
        let redirect = self.oauth.redirect_uri(provider);
        let authorize_url =
            providers::authorize_url(config, &redirect, &state, &verifier, nonce.as_deref())?;
        Ok(Started {
            authorize_url,
            state,
        })
    }

    /// Begins linking `provider` to the caller's account. Needs `current_password` or a fresh
    /// login ([`crate::auth::reauth`]): a stolen access token must not add the thief's provider
    /// account as a lasting way in. Audited (`oauth.link_started`); the link itself is audited
    /// when the provider comes back (`oauth.link`).
    pub fn oauth_link_start(
        &self,
        who: (UserId, i64),
        provider: Provider,
        current_password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started, AuthError> {
        let (user_id, session_id) = who;
        self.provider(provider)?;
        let mut conn = self.pool.get()?;
        let action = "oauth.link";
        let (_, proof) = self.reauthenticate(
            &mut conn,
            user_id,
            session_id,
            current_password,
            action,
            client,
        )?;
        let started = self.oauth_start(provider, Some(user_id))?;
        let detail = json!({"provider": provider.as_str(), "reauth": proof.as_str()});
        self.audit_user(&mut conn, user_id, "oauth.link_started", client, detail)?;
        Ok(started)
    }

    /// The provider sent the browser back. `browser_state` is the state cookie set at the start:
    /// the callback must come back to the browser that started it.
    #[allow(clippy::too_many_arguments)]
    pub fn oauth_callback(
        &self,
        provider: Provider,
        state: &str,
        browser_state: Option<&str>,
        code: Option<&str>,
        provider_error: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Callback, AuthError> {
        let config = self.provider(provider)?;
        let mut conn = self.pool.get()?;
        let fail = |conn: &mut DbConnection, user: Option<UserId>, reason: &str, e: AuthError| {
            let detail = json!({"provider": provider.as_str(), "reason": reason});
            self.audit(conn, user, "oauth.failure", user, client, Some(detail))?;
            Err(e)
        };
        let same_browser =
            browser_state.is_some_and(|cookie| opaque::matches(cookie, &opaque::hash(state)));
        if !same_browser {
            return fail(
                &mut conn,
                None,
                "state_mismatch",
                AuthError::OAuthState(
                    "this login was not started in this browser (state does not match)",
                ),
            );
        }
        let now = now_ms() as i64;
        let flow = store::take_flow(&mut conn, &opaque::hash(state), now)?
            .filter(|f| f.provider == provider.as_str() && f.kind != KIND_TICKET);
        let Some(flow) = flow else {
            return fail(
                &mut conn,
                None,
                "bad_state",
                AuthError::OAuthState(
                    "unknown, expired or already used state: start the login again",
                ),
            );
        };
        if let Some(error) = provider_error {
            let message = format!("{} did not authorize the login: {error}", provider.as_str());
            return fail(
                &mut conn,
                flow.user_id,
                "provider_error",
                AuthError::OAuthFailed(message),
            );
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            let e = AuthError::OAuthFailed("the callback carries no code".into());
            return fail(&mut conn, flow.user_id, "no_code", e);
        };
        let redirect = self.oauth.redirect_uri(provider);
        let identity = match providers::identify(
            &self.oauth.http,
            &self.oauth.jwks,
            config,
            &redirect,
            code,
            &flow.pkce_verifier,
            flow.nonce.as_deref(),
        ) {
            Ok(identity) => identity,
            Err(e) => {
                let reason = match e {
                    AuthError::OAuthProvider(_) => "provider_unreachable",
                    _ => "code_refused",
                };
                return fail(&mut conn, flow.user_id, reason, e);
            }
        };
        match (flow.kind.as_str(), flow.user_id) {
            (KIND_LINK, Some(user)) => {
                self.link(&mut conn, user, provider, &identity, client)?;
                Ok(Callback::Linked(provider))
            }
            _ => {
                let user = self.login_user(&mut conn, provider, &identity, client)?;
                if user.disabled {
                    let detail = json!({"method": provider.as_str(), "reason": "disabled"});
                    self.audit_user(&mut conn, user.id, "login.failure", client, detail)?;
                    return Err(AuthError::InvalidCredentials);
                }
                let (ticket, ticket_hash) = opaque::generate();
                store::insert_flow(
                    &mut conn,
                    &Flow {
                        state_hash: ticket_hash,
                        kind: KIND_TICKET.into(),
                        provider: provider.as_str().into(),
                        pkce_verifier: String::new(),
                        nonce: None,
                        user_id: Some(user.id),
                        created_at: now,
                        expires_at: now + TICKET_TTL_MS,
                    },
                )?;
                Ok(Callback::Ticket(ticket))
            }
        }
    }

    /// Redeems a login ticket for a token pair. An account with 2FA on also needs `totp_code` or
    /// `backup_code`: without one the ticket is kept and `totp_required` answered; with a wrong
    /// one the ticket is spent (one guess per provider login).
    pub fn oauth_complete(
        &self,
        ticket: &str,
        second_factor: (Option<&str>, Option<&str>),
        client: &ClientInfo,
    ) -> Result<Issued, AuthError> {
        let invalid = || AuthError::OAuthState("unknown, expired or already used login ticket");
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        let hash = opaque::hash(ticket);
        let flow = store::find_flow(&mut conn, &hash, now)?
            .filter(|f| f.kind == KIND_TICKET)
            .ok_or_else(invalid)?;
        let user =
            users::find_by_id(&mut conn, flow.user_id.ok_or_else(invalid)?)?.ok_or_else(invalid)?;
        if user.totp_enabled && second_factor.0.is_none() && second_factor.1.is_none() {
            return Err(AuthError::TotpRequired);
        }
        store::take_flow(&mut conn, &hash, now)?.ok_or_else(invalid)?;
        if user.disabled {
            let detail = json!({"method": flow.provider, "reason": "disabled"});
            self.audit_user(&mut conn, user.id, "login.failure", client, detail)?;
            return Err(AuthError::InvalidCredentials);
        }
        self.finish_login(&mut conn, user, second_factor, client, &flow.provider)
    }

    /// The password (if any) and the provider accounts a user can log in with.
    pub fn login_methods(&self, user_id: UserId) -> Result<LoginMethods, AuthError> {
        let mut conn = self.pool.get()?;
        let user = users::find_by_id(&mut conn, user_id)?
            .ok_or(AuthError::InvalidToken("no such user"))?;
        Ok(LoginMethods {
            has_password: user.has_password(),
            identities: store::identities_of(&mut conn, user_id)?,
        })
    }

    /// Removes the link to `provider`, unless it is the last way left to log in. Needs
    /// `current_password` or a fresh login ([`crate::auth::reauth`]).
    pub fn oauth_unlink(
        &self,
        who: (UserId, i64),
        provider: Provider,
        current_password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (user_id, session_id) = who;
        let mut conn = self.pool.get()?;
        let action = "oauth.unlink";
        let (_, proof) = self.reauthenticate(
            &mut conn,
            user_id,
            session_id,
            current_password,
            action,
            client,
        )?;
        let now = now_ms() as i64;
        conn.transaction(|conn| {
            // Writing the user row first serialises concurrent unlinks of one user (PostgreSQL
            // row lock; SQLite has one writer): two cannot each leave the other's as the last.
            users::touch(conn, user_id, now)?;
            let user =
                users::find_by_id(conn, user_id)?.ok_or(AuthError::InvalidToken("no such user"))?;
            let identities = store::identities_of(conn, user_id)?;
            if !identities.iter().any(|i| i.provider == provider.as_str()) {
                return Err(AuthError::NotFound(format!(
                    "no {} account is linked",
                    provider.as_str()
                )));
            }
            if !user.has_password() && identities.len() < 2 {
                return Err(AuthError::Conflict(format!(
                    "{} is your only way to log in: link another provider first",
                    provider.as_str()
                )));
            }
            store::delete_identity(conn, user_id, provider.as_str())?;
            let detail = json!({"provider": provider.as_str(), "reauth": proof.as_str()});
            self.audit_user(conn, user_id, "oauth.unlink", client, detail)?;
            Ok(())
        })
    }

    fn provider(
        &self,
        provider: Provider,
    ) -> Result<&crate::config::oauth::OAuthProvider, AuthError> {
        self.oauth
            .get(provider)
            .ok_or_else(|| AuthError::OAuthNotConfigured(provider.as_str().into()))
    }

    /// The account a provider login opens: already linked, linked now by a verified address, or
    /// created.
    fn login_user(
        &self,
        conn: &mut DbConnection,
        provider: Provider,
        identity: &ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        conn.transaction(|conn| {
            if let Some(linked) = store::find_identity(conn, provider.as_str(), &identity.subject)?
            {
                return users::find_by_id(conn, linked.user_id)?
                    .ok_or_else(|| AuthError::Internal("identity without its user".into()));
            }
            let verified = identity
                .email
                .as_deref()
                .filter(|_| identity.email_verified)
                .filter(|e| validation::email(e).is_ok());
            if let Some(email) = verified {
                if let Some(user) = store::find_user_by_verified_email(conn, email)? {
                    self.insert_identity(conn, user.id, provider, identity)?;
                    let detail = json!({"provider": provider.as_str(), "by": "verified_email"});
                    self.audit_user(conn, user.id, "oauth.link", client, detail)?;
                    return Ok(user);
                }
                // Typed in at a registration, never verified: the provider user owns the
                // address, so the typed claim is released instead of blocking their sign-up.
                for holder in store::release_unverified_email(conn, email)? {
                    let detail =
                        json!({"provider": provider.as_str(), "reason": "verified_elsewhere"});
                    self.audit_user(conn, holder, "email.released", client, detail)?;
                }
            }
            let user = self.create_user(conn, identity, verified)?;
            self.insert_identity(conn, user.id, provider, identity)?;
            let detail = json!({"provider": provider.as_str()});
            self.audit_user(conn, user.id, "user.register", client, detail.clone())?;
            self.audit_user(conn, user.id, "oauth.link", client, detail)?;
            Ok(user)
        })
    }

    fn link(
        &self,
        conn: &mut DbConnection,
        user_id: UserId,
        provider: Provider,
        identity: &ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        conn.transaction(|conn| {
            match store::find_identity(conn, provider.as_str(), &identity.subject)? {
                Some(linked) if linked.user_id == user_id => return Ok(()),
                Some(_) => {
                    return Err(AuthError::Conflict(format!(
                        "this {} account is linked to another user",
                        provider.as_str()
                    )))
                }
                None => {}
            }
            self.insert_identity(conn, user_id, provider, identity)?;
            if let Some(email) = identity
                .email
                .as_deref()
                .filter(|_| identity.email_verified)
            {
                if validation::email(email).is_ok() && !store::email_in_use(conn, email)? {
                    store::set_verified_email(conn, user_id, email, now_ms() as i64)?;
                }
            }
            let detail = json!({"provider": provider.as_str(), "by": "user"});
            self.audit_user(conn, user_id, "oauth.link", client, detail)?;
            Ok(())
        })
    }

    fn insert_identity(
        &self,
        conn: &mut DbConnection,
        user_id: UserId,
        provider: Provider,
        identity: &ProviderIdentity,
    ) -> Result<(), AuthError> {
        store::insert_identity(
            conn,
            &NewIdentity {
                id: self.ids.next_id(),
                user_id,
                provider: provider.as_str(),
                subject: &identity.subject,
                email: identity.email.as_deref(),
                created_at: now_ms() as i64,
            },
        )
        .map_err(|e| {
            if e.is_unique_violation() {
                AuthError::Conflict(format!(
                    "a {} account is already linked: unlink it first",
                    provider.as_str()
                ))
            } else {
                e.into()
            }
        })
    }

    /// A password-less account named after the provider account (made unique with a suffix).
    fn create_user(
        &self,
        conn: &mut DbConnection,
        identity: &ProviderIdentity,
        verified_email: Option<&str>,
    ) -> Result<User, AuthError> {
        let base = username_from(identity);
        let now = now_ms() as i64;
        for attempt in 0..20u32 {
            let candidate = match attempt {
                0 => base.clone(),
                n if n < 10 => format!("{base}-{}", n + 1),
                _ => format!("{base}-{}", &opaque::generate().1[..6]),
            };
            if users::find_by_username(conn, &candidate)?.is_some() {
                continue;
            }
            let id = UserId(self.ids.next_id());
            let lower = candidate.to_lowercase();
            users::insert(
                conn,
                &NewUser {
                    id,
                    username: &candidate,
                    username_lower: &lower,
                    email: verified_email,
                    password_hash: "",
                    role: Role::User.as_str(),
                    disabled: false,
                    created_at: now,
                    updated_at: now,
                    email_verified: verified_email.is_some(),
                },
            )?;
            return users::find_by_id(conn, id)?
                .ok_or_else(|| AuthError::Internal("user vanished after insert".into()));
        }
        Err(AuthError::Internal(
            "no free username for the new account".into(),
        ))
    }
}

/// A valid username from the provider's name or address: allowed characters only, 3-24 long.
fn username_from(identity: &ProviderIdentity) -> String {
    let source = identity
        .name
        .clone()
        .or_else(|| {
            identity
                .email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let mut name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    if name.chars().count() < validation::USERNAME_MIN {
        name = format!("user-{}", &opaque::generate().1[..8]);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: Option<&str>, email: Option<&str>) -> ProviderIdentity {
        ProviderIdentity {
            subject: "1".into(),
            email: email.map(Into::into),
            email_verified: true,
            name: name.map(Into::into),
        }
    }

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(username_from(&identity(Some("octocat"), None)), "octocat");
        assert_eq!(username_from(&identity(Some("Zoë B"), None)), "Zo__B");
        assert_eq!(
            username_from(&identity(None, Some("ann.lee@x.org"))),
            "ann.lee"
        );
        let short = username_from(&identity(Some("x"), None));
        assert!(short.starts_with("user-") && validation::username(&short).is_ok());
        let long = username_from(&identity(Some(&"a".repeat(60)), None));
        assert!(validation::username(&long).is_ok());
    }
}
