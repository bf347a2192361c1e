//! The per-IP limit on every request (media excepted: `/live` and `/hls` are long or polled
//! streams whose own costs are bounded elsewhere), as middleware. The per-user and per-class
//! limits run in the `AuthUser` extractor, where the user is known.

use super::error::ApiError;
use super::AppState;
use crate::limits::Class;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

fn exempt(path: &str) -> bool {
    path.starts_with("/live/") || path.starts_with("/hls/") || path == "/health"
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !exempt(req.path()) {
        if let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
            let ip = super::client_ip::of(req.request());
            if let Some((rule, decision)) = state.limits.check_ip(Class::Ip, ip).await {
                if !decision.allowed {
                    let error = ApiError::limited(rule, decision, "requests from this address");
                    return Ok(req.into_response(error.error_response()));
                }
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
