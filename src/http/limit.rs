//! The per-IP limits on every request, as middleware: media (`/live` and `/hls`, long or polled
//! streams) has its own per-IP budget (`media_rate_per_minute`), everything else shares
//! `ip_rate_per_minute`. The per-user and per-class limits run in the `AuthUser` extractor, where
//! the user is known.

use super::error::ApiError;
use super::AppState;
use crate::limits::Class;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

/// Which per-IP budget a path draws on (`None`: the health check, never limited).
fn class_of(path: &str) -> Option<Class> {
    if path == "/health" {
        None
    } else if path.starts_with("/live/") || path.starts_with("/hls/") {
        Some(Class::Media)
    } else {
        Some(Class::Ip)
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let (Some(class), Some(state)) = (
        class_of(req.path()),
        req.app_data::<web::Data<AppState>>().cloned(),
    ) {
        let ip = super::client_ip::of(req.request());
        if let Some((rule, decision)) = state.limits.check_ip(class, ip).await {
            if !decision.allowed {
                let error = ApiError::limited(rule, decision, "requests from this address");
                return Ok(req.into_response(error.error_response()));
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
