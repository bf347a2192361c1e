//! The main port's per-address connection cap (`http_max_per_ip`; IPv6 by its /64, as the rate
//! limits key it). A connection takes its place when it is accepted ([`PeerCap::on_connect`]) and
//! gives it back when it closes; one over the cap is answered 503 + `Retry-After` and closed after
//! that answer ([`middleware`]). A peer that is a trusted proxy is not capped: its connections carry
//! many clients, and the proxy is where their connections are bounded.
//!
//! Sockets that never send a request are closed by actix's request-head timeout (5 s), so the cap
//! bounds what one address holds open, slow or not. The total (`http_max_connections`) is actix's.

use super::error::ApiError;
use crate::limits::held::{Gate, Permit};
use crate::limits::ip_key;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::ResponseError;
use ipnet::IpNet;
use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;

type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<TcpStream>;

/// The counts of the main port's connections per client address, shared by its workers.
#[derive(Clone)]
pub struct PeerCap {
    gate: Arc<Gate>,
    trusted: Arc<[IpNet]>,
}

/// Marks a connection accepted over its address's cap: its requests are refused.
struct OverCap;

/// The place an admitted connection holds, given back when actix drops the connection's data.
struct Place(#[allow(dead_code)] Permit);

impl PeerCap {
    pub fn new(max_per_ip: usize, trusted: &[IpNet]) -> Self {
        Self {
            gate: Arc::new(Gate::new(usize::MAX, max_per_ip)),
            trusted: trusted.into(),
        }
    }

    /// For `HttpServer::on_connect`: counts the new connection under its peer's address.
    pub fn on_connect(&self, conn: &dyn Any, data: &mut Extensions) {
        let Some(ip) = peer_ip(conn) else { return };
        if self.trusted.iter().any(|net| net.contains(&ip)) {
            return;
        }
        match self.gate.enter(&ip_key(ip)) {
            Ok(permit) => {
                data.insert(Place(permit));
            }
            Err(_) => {
                data.insert(OverCap);
            }
        }
    }
}

fn peer_ip(conn: &dyn Any) -> Option<IpAddr> {
    let tcp = match conn.downcast_ref::<TcpStream>() {
        Some(tcp) => tcp,
        None => conn.downcast_ref::<TlsStream>()?.get_ref().0,
    };
    tcp.peer_addr().ok().map(|addr| addr.ip())
}

/// Refuses every request of a connection that was over its address's cap, and closes it.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.conn_data::<OverCap>().is_some() {
        let error = ApiError {
            retry_after_s: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "too many connections from your address; close some and retry",
            )
        };
        let mut res = error.error_response();
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
