//! Global roles. Per-room roles (owner/moderator/member) live with rooms.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Moderator,
    Broadcaster,
    User,
    Bot,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Moderator,
        Role::Broadcaster,
        Role::User,
        Role::Bot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Moderator => "moderator",
            Role::Broadcaster => "broadcaster",
            Role::User => "user",
            Role::Bot => "bot",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: use admin, moderator, broadcaster, user or bot")
            })
    }
}
