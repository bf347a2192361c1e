//! Bot accounts: created by a user (who owns them), signing in with a long-lived token shown once.
//! A bot is a user with the `bot` role and no password; its token (`veza_bot_` + 256 random bits,
//! the prefix for secret scanners) is kept as a SHA-256 hash and is one session, so rotating or
//! deleting it ends that session and closes the bot's sockets on every node.

use super::service::{AuthService, Authenticated, ClientInfo};
use super::{opaque, validation, AuthError, Role};
use crate::db::bots::{self, Bot, Listed};
use crate::db::sessions;
use crate::db::users::{self, NewUser};
use diesel::Connection;
use veza_actors::ids::now_ms;
use veza_actors::revocation::Scope;
use veza_actors::UserId;

/// What marks a bot token (and lets secret scanners find leaked ones).
pub const TOKEN_PREFIX: &str = "veza_bot_";
/// Characters of a token kept in the clear to tell tokens apart.
const HINT_LEN: usize = TOKEN_PREFIX.len() + 4;

/// A new bot token: the token itself (shown once), its hash and its hint.
fn new_token() -> (String, String, String) {
    let (secret, _) = opaque::generate();
    let token = format!("{TOKEN_PREFIX}{secret}");
    let hint = token.chars().take(HINT_LEN).collect();
    (opaque::hash(&token), hint, token)
}

/// Who may act on a bot: its owner, or whoever manages users.
pub struct Manager {
    pub who: Authenticated,
    pub manages_users: bool,
}

impl Manager {
    /// Bot `id` if this manager may act on it; others' bots are answered like unknown ones.
    fn bot(&self, conn: &mut crate::db::DbConnection, id: UserId) -> Result<Bot, AuthError> {
        bots::find(conn, id)?
            .filter(|b| self.manages_users || b.owner_id == self.who.user_id)
            .ok_or_else(no_such_bot)
    }
}

fn no_such_bot() -> AuthError {
    AuthError::NotFound("no such bot".into())
}

impl AuthService {
    /// Creates a bot owned by `owner`; returns it and its token. At most `max` bots per owner
    /// (0: no cap), else `QuotaExceeded`.
    pub fn create_bot(
        &self,
        owner: &Authenticated,
        username: &str,
        max: u64,
        client: &ClientInfo,
    ) -> Result<(Listed, String), AuthError> {
        validation::username(username)?;
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        let (id, session) = (UserId(self.ids.next_id()), self.ids.next_id());
        let (hash, hint, token) = new_token();
        let lower = username.to_lowercase();
        let listed = conn.transaction(|conn| {
            if max > 0 && bots::count_owned(conn, owner.user_id)? >= max as i64 {
                return Err(AuthError::QuotaExceeded(format!(
                    "you own {max} bots already, the most one account may; delete one first"
                )));
            }
            let user = NewUser::bot_account(id, username, &lower, now);
            users::insert(conn, &user).map_err(|e| {
                if e.is_unique_violation() {
                    AuthError::UsernameTaken
                } else {
                    e.into()
                }
            })?;
            sessions::create_session(conn, session, id, now)?;
            let bot = Bot {
                user_id: id,
                owner_id: owner.user_id,
                token_hash: hash,
                token_hint: hint,
                session_id: session,
                created_at: now,
                rotated_at: now,
            };
            bots::insert(conn, &bot)?;
            let details = serde_json::json!({"bot": username});
            self.audit(
                conn,
                Some(owner.user_id),
                "bot.created",
                Some(id),
                client,
                Some(details),
            )?;
            Ok::<_, AuthError>(Listed {
                bot,
                username: username.to_owned(),
                owner_name: owner.username.clone(),
            })
        })?;
        Ok((listed, token))
    }

    /// The bots `manager` owns, or every bot for those who manage users and ask for `all`.
    pub fn list_bots(&self, manager: &Manager, all: bool) -> Result<Vec<Listed>, AuthError> {
        let owner = (!(all && manager.manages_users)).then_some(manager.who.user_id);
        Ok(bots::list(&mut *self.pool.get()?, owner)?)
    }

    /// A new token for bot `id` (the old one stops working and its sockets close everywhere).
    pub fn rotate_bot_token(
        &self,
        manager: &Manager,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(Listed, String), AuthError> {
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        let session = self.ids.next_id();
        let (hash, hint, token) = new_token();
        let old = conn.transaction(|conn| {
            let bot = manager.bot(conn, id)?;
            sessions::revoke_session(conn, bot.session_id, now, "bot token rotated")?;
            sessions::create_session(conn, session, id, now)?;
            bots::replace_token(conn, id, &hash, &hint, session, now)?;
            self.audit(
                conn,
                Some(manager.who.user_id),
                "bot.token_rotated",
                Some(id),
                client,
                None,
            )?;
            Ok::<_, AuthError>(bot)
        })?;
        self.sessions_ended(
            old.user_id,
            Scope::Session(old.session_id),
            "bot token rotated",
        );
        let listed = bots::list(&mut conn, Some(old.owner_id))?
            .into_iter()
            .find(|l| l.bot.user_id == id)
            .ok_or_else(no_such_bot)?;
        Ok((listed, token))
    }

    /// Deletes bot `id`: its token stops working, its account is disabled (its messages stay),
    /// and its sockets close on every node.
    pub fn delete_bot(
        &self,
        manager: &Manager,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        let bot = conn.transaction(|conn| {
            let bot = manager.bot(conn, id)?;
            sessions::revoke_session(conn, bot.session_id, now, "bot deleted")?;
            bots::delete(conn, id)?;
            users::set_disabled(conn, id, true, now)?;
            self.audit(
                conn,
                Some(manager.who.user_id),
                "bot.deleted",
                Some(id),
                client,
                None,
            )?;
            Ok::<_, AuthError>(bot)
        })?;
        self.sessions_ended(bot.user_id, Scope::All, "bot deleted");
        Ok(())
    }

    /// Checks a bot token (`Authorization: Bot ...`): the bot, its session and its account must
    /// still be in good standing.
    pub fn authenticate_bot(&self, token: &str) -> Result<Authenticated, AuthError> {
        let invalid = || AuthError::InvalidToken("invalid bot token");
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(invalid());
        }
        let mut conn = self.pool.get()?;
        let bot = bots::find_by_token_hash(&mut conn, &opaque::hash(token))?.ok_or_else(invalid)?;
        let (session, user) =
            sessions::find_with_user(&mut conn, bot.session_id)?.ok_or_else(invalid)?;
        if session.revoked_at.is_some() || user.disabled || session.user_id != bot.user_id {
            return Err(invalid());
        }
        Ok(Authenticated {
            user_id: user.id,
            username: user.username,
            role: Role::Bot,
            session_id: bot.session_id,
            created_at: user.created_at,
        })
    }
}
