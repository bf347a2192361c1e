//! The HTTP layer: the actix-web app factory shared by `veza serve` and the tests, its middleware,
//! extractors, errors and routes.

pub mod access_log;
pub mod client_info;
pub mod client_ip;
pub mod error;
pub mod extract;
pub mod file_response;
pub mod guard;
pub mod limit;
pub mod openapi;
pub mod password_guard;
pub mod peer_cap;

pub mod request_id;
pub mod routes;
pub mod security;
pub mod stream_redirect;

pub use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App};

/// Builds the application. One function for the server and the tests, so tests exercise exactly
/// the routes, limits and middleware that production runs.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let log = state.log.clone();
    let metrics = state.metrics.clone();
    let max_body = state.config.max_body_bytes;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(max_body)
                .error_handler(error::json_error_handler),
        )
        .app_data(web::PayloadConfig::default().limit(max_body))
        .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
        .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
        .wrap(ErrorHandlers::new().default_handler(error::json_errors))
        .wrap(actix_web::middleware::from_fn(limit::middleware))
        .wrap(actix_web::middleware::from_fn(peer_cap::middleware))
        .wrap(actix_web::middleware::from_fn(security::middleware))
        .wrap_fn(request_id::middleware)
        .wrap_fn(move |req, srv| access_log::middleware(&log, &metrics, req, srv))
        .configure(routes::configure_root)
        .service(web::scope("/api/v2").configure(routes::configure_api))
}
