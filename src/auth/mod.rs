//! Accounts and tokens: password hashing, access tokens (JWT), refresh-token families, and the
//! service that ties them to the store. Everything here is blocking; the HTTP layer calls it on
//! blocking threads (`web::block`), never on the async arbiters.

pub mod bots;
pub mod error;
pub mod jwt;
pub mod oauth;
pub mod opaque;
pub mod password;
pub mod password_change;
pub mod permission;
pub mod reauth;
pub mod revocation;
pub mod role;
pub mod service;
pub mod session_cache;
pub mod totp;
pub mod totp_rekey;
pub mod two_factor;
pub mod validation;

pub use error::AuthError;
pub use jwt::{Claims, JwtKeys};
pub use role::Role;
pub use service::{AuthService, Authenticated, ClientInfo, Issued};
