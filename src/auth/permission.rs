//! Which global role holds which permissions. The one table; handlers and commands only ask
//! "does this session hold P" (src/http/guard.rs, the connection actor).

use super::Role;
use crate::config::Config;
use veza_actors::permission::{Grants, Permission as P};

const MODERATOR: &[P] = &[
    P::ChatJoin,
    P::ChatSend,
    P::RoomsCreate,
    P::RoomsModerate,
    P::StreamsCreate,
    P::StreamsBroadcast,
    P::ClipsCreate,
    P::BotsCreate,
    P::RoomsJoinPublic,
];
const BROADCASTER: &[P] = &[
    P::ChatJoin,
    P::ChatSend,
    P::RoomsCreate,
    P::StreamsCreate,
    P::StreamsBroadcast,
    P::ClipsCreate,
    P::BotsCreate,
    P::RoomsJoinPublic,
];
const USER: &[P] = &[
    P::ChatJoin,
    P::ChatSend,
    P::RoomsCreate,
    P::StreamsCreate,
    P::StreamsBroadcast,
    P::ClipsCreate,
    P::BotsCreate,
    P::RoomsJoinPublic,
];
const BOT: &[P] = &[P::ChatJoin, P::ChatSend];

/// The permissions of `role` under `config` (`streams_require_broadcaster` takes streaming away
/// from plain users).
pub fn grants(role: Role, config: &Config) -> Grants {
    let grants = match role {
        Role::Admin => Grants::of(&P::ALL),
        Role::Moderator => Grants::of(MODERATOR),
        Role::Broadcaster => Grants::of(BROADCASTER),
        Role::User => Grants::of(USER),
        Role::Bot => Grants::of(BOT),
    };
    if config.streams_require_broadcaster && role == Role::User {
        grants
            .without(P::StreamsCreate)
            .without(P::StreamsBroadcast)
    } else {
        grants
    }
}
