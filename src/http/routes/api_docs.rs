//! The API's description: `GET /api/v2/openapi.json` (OpenAPI 3.1, generated from the handlers'
//! annotations by [`crate::http::openapi`]) and `GET /api/docs`, an interactive page (Swagger UI,
//! compiled into the binary: no CDN) under the web page's strict CSP.

use crate::http::openapi;
use crate::http::routes::web::PAGE_CSP;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

const PAGE: &str = include_str!("../web/api-docs/index.html");
const INIT_JS: &str = include_str!("../web/api-docs/init.js");
const BUNDLE_JS: &str = include_str!("../web/api-docs/swagger-ui-bundle.js");
const CSS: &str = include_str!("../web/api-docs/swagger-ui.css");

/// `/api/docs` and its assets.
pub fn configure_root(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/docs", web::get().to(page))
        .route("/api/docs/{asset}", web::get().to(asset));
}

/// Under `/api/v2`: the document itself.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(document));
}

/// This file's part of the document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(document, page, asset))]
pub struct Api;

/// The OpenAPI 3.1 document of every route this server answers.
#[utoipa::path(
    get,
    path = "/api/v2/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(openapi::json())
}

/// The interactive API page.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "meta",
    responses((status = 200, description = "An HTML page", content_type = "text/html"))
)]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .body(PAGE)
}

/// The page's script and style.
#[utoipa::path(
    get,
    path = "/api/docs/{asset}",
    tag = "meta",
    params(("asset" = String, Path, description = "`init.js`, `swagger-ui-bundle.js` or `swagger-ui.css`")),
    responses(
        (status = 200, description = "The file", content_type = "text/javascript"),
        (status = 404, description = "No such file", body = crate::http::error::ErrorBody),
    )
)]
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    let (content_type, body) = match path.as_str() {
        "init.js" => ("text/javascript; charset=utf-8", INIT_JS),
        "swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", BUNDLE_JS),
        "swagger-ui.css" => ("text/css; charset=utf-8", CSS),
        _ => {
            return HttpResponse::NotFound().json(crate::http::error::ErrorBody::new(
                "not_found",
                "no such file",
            ))
        }
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
