//! Named permissions. Each layer checks them in one place: REST handlers through the
//! `Authorized<P>` extractor (src/http/guard.rs), WebSocket commands in the connection actor
//! through [`required_by`]. Which role holds which permissions is the server's table
//! (src/auth/permission.rs); per-room roles (owner/moderator/member) still decide inside a room.

use crate::protocol::ClientFrame;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Join rooms, read their history, ping.
    ChatJoin,
    /// Send, edit and delete one's own messages, react, typing.
    ChatSend,
    RoomsCreate,
    /// Moderator powers in every room (global moderators).
    RoomsModerate,
    /// Owner powers in every room (admins).
    RoomsAdminister,
    StreamsCreate,
    /// Go on air with a stream's key (checked for the stream's owner).
    StreamsBroadcast,
    /// Rotate keys, set metadata and effects of streams one does not own.
    StreamsManage,
    ClipsCreate,
    /// The admin API: list, disable, change roles, revoke sessions.
    UsersManage,
    AuditRead,
    /// The operator's view of the node: the production checklist.
    SystemRead,
    /// Create bot accounts (and manage the ones one owns).
    BotsCreate,
    /// Join public rooms without an invitation (everyone but bots: a bot joins only the rooms it
    /// was invited to).
    RoomsJoinPublic,
}

impl Permission {
    pub const ALL: [Permission; 14] = [
        Permission::ChatJoin,
        Permission::ChatSend,
        Permission::RoomsCreate,
        Permission::RoomsModerate,
        Permission::RoomsAdminister,
        Permission::StreamsCreate,
        Permission::StreamsBroadcast,
        Permission::StreamsManage,
        Permission::ClipsCreate,
        Permission::UsersManage,
        Permission::AuditRead,
        Permission::SystemRead,
        Permission::BotsCreate,
        Permission::RoomsJoinPublic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::ChatJoin => "chat.join",
            Permission::ChatSend => "chat.send",
            Permission::RoomsCreate => "rooms.create",
            Permission::RoomsModerate => "rooms.moderate",
            Permission::RoomsAdminister => "rooms.administer",
            Permission::StreamsCreate => "streams.create",
            Permission::StreamsBroadcast => "streams.broadcast",
            Permission::StreamsManage => "streams.manage",
            Permission::ClipsCreate => "clips.create",
            Permission::UsersManage => "users.manage",
            Permission::AuditRead => "audit.read",
            Permission::SystemRead => "system.read",
            Permission::BotsCreate => "bots.create",
            Permission::RoomsJoinPublic => "rooms.join_public",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of permissions (what a session's role grants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants(u32);

impl Grants {
    pub fn of(permissions: &[Permission]) -> Self {
        Grants(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    pub fn allows(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn without(self, p: Permission) -> Self {
        Grants(self.0 & !p.bit())
    }

    pub fn names(self) -> Vec<&'static str> {
        Permission::ALL
            .iter()
            .filter(|p| self.allows(**p))
            .map(|p| p.name())
            .collect()
    }
}

/// What a WebSocket command needs.
pub fn required_by(frame: &ClientFrame) -> Permission {
    match frame {
        ClientFrame::Join { .. }
        | ClientFrame::Leave { .. }
        | ClientFrame::History { .. }
        | ClientFrame::Read { .. }
        | ClientFrame::Ping {} => Permission::ChatJoin,
        ClientFrame::Send { .. }
        | ClientFrame::Edit { .. }
        | ClientFrame::Delete { .. }
        | ClientFrame::React { .. }
        | ClientFrame::Typing { .. }
        | ClientFrame::RegisterCommands { .. }
        | ClientFrame::CommandReply { .. } => Permission::ChatSend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_hold_exactly_what_they_were_given() {
        let g = Grants::of(&[Permission::ChatJoin, Permission::AuditRead]);
        assert!(g.allows(Permission::ChatJoin) && g.allows(Permission::AuditRead));
        assert!(!g.allows(Permission::ChatSend));
        assert_eq!(g.names(), vec!["chat.join", "audit.read"]);
        assert!(!g
            .without(Permission::AuditRead)
            .allows(Permission::AuditRead));
        let names: std::collections::HashSet<_> =
            Permission::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Permission::ALL.len(), "names are unique");
    }
}
