//! A request id on every response (`X-Request-Id`): the caller's own if it sent a sane one, else a
//! new random one. The access log prints it, so a user's report can be matched to a log line.

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use rand::RngCore;
use std::future::Future;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub fn middleware<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let id = req
        .headers()
        .get(&HEADER)
        .filter(|v| is_sane(v.as_bytes()))
        .cloned()
        .unwrap_or_else(new_id);
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        res.headers_mut().insert(HEADER, id);
        Ok(res)
    }
}

/// Short, printable and free of separators, so it is safe in logs.
fn is_sane(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn new_id() -> HeaderValue {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    HeaderValue::from_str(&hex::encode(bytes)).unwrap_or(HeaderValue::from_static("unknown"))
}
