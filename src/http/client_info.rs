//! Who made a request (IP, user agent), for the audit log.

use crate::auth::ClientInfo;
use actix_web::http::header;
use actix_web::HttpRequest;

/// The address is the peer's, or what a configured trusted proxy forwarded (`client_ip.rs`), so a
/// client cannot forge its IP in the audit log.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: super::client_ip::of(req).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}
