//! `GET /`: the chat web page, and its script and style at `/assets/`: static files compiled into
//! the binary (no build step). The CSP allows only this origin's files (no inline script or
//! style), so injected markup could not run even if some text ever reached the DOM as HTML.

use actix_web::http::header;
use actix_web::web;
use actix_web::HttpResponse;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(index, app_js, conversations_js, streams_js, app_css))]
pub struct Api;

/// `/` and its assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/assets/app.js", web::get().to(app_js))
        .route("/assets/conversations.js", web::get().to(conversations_js))
        .route("/assets/streams.js", web::get().to(streams_js))
        .route("/assets/app.css", web::get().to(app_css));
}

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const CONVERSATIONS_JS: &str = include_str!("../web/conversations.js");
const STREAMS_JS: &str = include_str!("../web/streams.js");
const APP_CSS: &str = include_str!("../web/app.css");

/// The page's policy: its own script, style and API; nothing inline, nothing third-party.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The chat web page (under a strict Content-Security-Policy).
#[utoipa::path(
    get,
    path = "/",
    tag = "web",
    responses((status = 200, description = "The page", content_type = "text/html"))
)]
pub async fn index() -> HttpResponse {
    let mut page = asset("text/html; charset=utf-8", INDEX);
    page.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(PAGE_CSP),
    );
    page
}

/// The page's script.
#[utoipa::path(
    get,
    path = "/assets/app.js",
    tag = "web",
    responses((status = 200, description = "The script", content_type = "text/javascript"))
)]
pub async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The page's conversation features (threads, mentions, unread counts, pins, uploads, DMs).
#[utoipa::path(
    get,
    path = "/assets/conversations.js",
    tag = "web",
    responses((status = 200, description = "The script", content_type = "text/javascript"))
)]
pub async fn conversations_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CONVERSATIONS_JS)
}

/// The page's stream analytics (a chart of listeners and chat per minute, for a stream's owner).
#[utoipa::path(
    get,
    path = "/assets/streams.js",
    tag = "web",
    responses((status = 200, description = "The script", content_type = "text/javascript"))
)]
pub async fn streams_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", STREAMS_JS)
}

/// The page's style sheet.
#[utoipa::path(
    get,
    path = "/assets/app.css",
    tag = "web",
    responses((status = 200, description = "The style sheet", content_type = "text/css"))
)]
pub async fn app_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}
