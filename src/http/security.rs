//! Security headers on every response, and CORS for the configured origins only.
//!
//! Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//! `X-Frame-Options: DENY`, `Cross-Origin-Opener-Policy: same-origin`, a `Permissions-Policy`, and
//! a CSP of `default-src 'none'; frame-ancestors 'none'` unless the handler set its own (the web
//! page). HSTS when the server is behind a TLS proxy (`behind_tls_proxy`). A browser request from
//! an origin in `cors_origins` gets `Access-Control-Allow-Origin` for that origin (never `*`, never
//! credentials: the API takes bearer tokens, not cookies); its preflight is answered here. Other
//! origins get no CORS headers, so browsers keep their pages out.

use super::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const HSTS: &str = "max-age=63072000; includeSubDomains";

fn allowed_origin(req: &ServiceRequest) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    let state = req.app_data::<web::Data<AppState>>()?;
    state
        .config
        .cors_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

fn set_cors(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset",
        ),
    );
}

fn set_security(headers: &mut HeaderMap, hsts: bool) {
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), geolocation=(), payment=(), usb=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = allowed_origin(&req);
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.behind_tls_proxy || s.config.tls_cert.is_some());
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, origin.clone()) {
        let mut res = HttpResponse::NoContent()
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, PATCH, DELETE",
            ))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, X-Request-Id",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish();
        set_cors(res.headers_mut(), origin);
        set_security(res.headers_mut(), hsts);
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(origin) = origin {
        set_cors(res.headers_mut(), origin);
    }
    set_security(res.headers_mut(), hsts);
    Ok(res)
}
