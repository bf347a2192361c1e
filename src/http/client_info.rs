//! Who made a request (IP, user agent), for the audit log.

use crate::auth::ClientInfo;
use actix_web::http::header;
use actix_web::HttpRequest;

/// The peer address is used as is: `X-Forwarded-For` is not trusted until trusted proxies can be
/// configured (the security issue), so a client cannot forge its IP in the audit log.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}
