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
        .route("/", web::get().to(routes::web::index))
        .route("/assets/app.js", web::get().to(routes::web::app_js))
        .route(
            "/assets/conversations.js",
            web::get().to(routes::web::conversations_js),
        )
        .route("/assets/app.css", web::get().to(routes::web::app_css))
        .route("/health", web::get().to(routes::health::health))
        .route("/metrics", web::get().to(routes::metrics::metrics))
        .route("/ws", web::get().to(routes::ws::upgrade))
        .configure(routes::emoji::configure_images)
        .service(
            web::resource("/hooks/{id}/{secret}").route(web::post().to(routes::webhooks::post)),
        )
        .service(web::resource("/live/{mount}").route(web::put().to(routes::live::source)))
        .service(web::resource("/live/{mount}/ws").route(web::get().to(routes::live_ws::source)))
        .service(
            web::resource("/hls/{mount}/master.m3u8").route(web::get().to(routes::hls::master)),
        )
        .service(
            web::resource("/hls/{mount}/{variant}/index.m3u8")
                .route(web::get().to(routes::hls::media)),
        )
        .service(
            web::resource("/hls/{mount}/{variant}/{segment}")
                .route(web::get().to(routes::hls::segment)),
        )
        .service(
            web::resource("/live/{mount}/{variant}").route(web::get().to(routes::live::listen)),
        )
        .service(
            web::scope("/api/v2")
                .configure(routes::emoji::configure)
                .configure(routes::uploads::configure)
                .route("/status", web::get().to(routes::status::status))
                .route(
                    "/production-validation",
                    web::get().to(routes::production::validation),
                )
                .service(
                    web::resource("/auth/register").route(web::post().to(routes::auth::register)),
                )
                .service(web::resource("/auth/login").route(web::post().to(routes::auth::login)))
                .service(
                    web::resource("/auth/refresh").route(web::post().to(routes::auth::refresh)),
                )
                .service(web::resource("/auth/logout").route(web::post().to(routes::auth::logout)))
                .service(
                    web::resource("/auth/2fa/enroll")
                        .route(web::post().to(routes::two_factor::enroll)),
                )
                .service(
                    web::resource("/auth/2fa/confirm")
                        .route(web::post().to(routes::two_factor::confirm)),
                )
                .service(
                    web::resource("/auth/2fa/disable")
                        .route(web::post().to(routes::two_factor::disable)),
                )
                .service(
                    web::resource("/auth/2fa/backup-codes")
                        .route(web::post().to(routes::two_factor::backup_codes)),
                )
                .service(
                    web::resource("/auth/oauth/providers")
                        .route(web::get().to(routes::oauth::list)),
                )
                .service(
                    web::resource("/auth/oauth/complete")
                        .route(web::post().to(routes::oauth::complete)),
                )
                .service(
                    web::resource("/auth/oauth/{provider}/start")
                        .route(web::get().to(routes::oauth::start)),
                )
                .service(
                    web::resource("/auth/oauth/{provider}/link")
                        .route(web::post().to(routes::oauth::link)),
                )
                .service(
                    web::resource("/auth/oauth/{provider}/callback")
                        .route(web::get().to(routes::oauth::callback)),
                )
                .service(
                    web::resource("/bots")
                        .route(web::get().to(routes::bots::list))
                        .route(web::post().to(routes::bots::create)),
                )
                .service(web::resource("/bots/{id}").route(web::delete().to(routes::bots::delete)))
                .service(
                    web::resource("/bots/{id}/token").route(web::post().to(routes::bots::rotate)),
                )
                .service(web::resource("/users/me").route(web::get().to(routes::users::me)))
                .service(
                    web::resource("/users/me/password")
                        .route(web::put().to(routes::users::change_password)),
                )
                .service(
                    web::resource("/users/me/identities")
                        .route(web::get().to(routes::oauth::identities)),
                )
                .service(
                    web::resource("/users/me/identities/{provider}")
                        .route(web::delete().to(routes::oauth::unlink)),
                )
                .service(web::resource("/admin/users").route(web::get().to(routes::admin::users)))
                .service(
                    web::resource("/admin/users/{id}/disable")
                        .route(web::post().to(routes::admin::disable)),
                )
                .service(
                    web::resource("/admin/users/{id}/enable")
                        .route(web::post().to(routes::admin::enable)),
                )
                .service(
                    web::resource("/admin/users/{id}/role")
                        .route(web::put().to(routes::admin::set_role)),
                )
                .service(
                    web::resource("/admin/users/{id}/revoke-sessions")
                        .route(web::post().to(routes::admin::revoke_sessions)),
                )
                .service(
                    web::resource("/admin/users/{id}/reset-2fa")
                        .route(web::post().to(routes::admin::reset_two_factor)),
                )
                .service(web::resource("/admin/audit").route(web::get().to(routes::admin::audit)))
                .service(
                    web::resource("/rooms")
                        .route(web::get().to(routes::rooms::list))
                        .route(web::post().to(routes::rooms::create)),
                )
                .service(web::resource("/rooms/{id}").route(web::get().to(routes::rooms::show)))
                .service(
                    web::resource("/rooms/{id}/commands")
                        .route(web::get().to(routes::room_commands::list)),
                )
                .service(
                    web::resource("/rooms/{id}/webhooks")
                        .route(web::get().to(routes::webhooks::list))
                        .route(web::post().to(routes::webhooks::create)),
                )
                .service(
                    web::resource("/rooms/{id}/webhooks/{hook}")
                        .route(web::delete().to(routes::webhooks::revoke)),
                )
                .configure(routes::outgoing_webhooks::configure)
                .configure(routes::conversations::configure)
                .configure(routes::threads::configure)
                .configure(routes::pins::configure)
                .configure(routes::notifications::configure)
                .configure(routes::blocks::configure)
                .service(
                    web::resource("/rooms/{id}/messages")
                        .route(web::get().to(routes::rooms::history)),
                )
                .service(
                    web::resource("/rooms/{id}/search").route(web::get().to(routes::rooms::search)),
                )
                .service(
                    web::resource("/streams")
                        .route(web::get().to(routes::streams::list))
                        .route(web::post().to(routes::streams::create)),
                )
                .service(web::resource("/streams/{id}").route(web::get().to(routes::streams::show)))
                .service(
                    web::resource("/streams/{id}/key")
                        .route(web::post().to(routes::streams::rotate_key)),
                )
                .service(
                    web::resource("/streams/{id}/metadata")
                        .route(web::put().to(routes::streams::metadata)),
                )
                .service(
                    web::resource("/streams/{id}/clips")
                        .route(web::post().to(routes::clips::create)),
                )
                .service(
                    web::resource("/streams/{id}/clips/{clip}")
                        .route(web::get().to(routes::clips::fetch)),
                )
                .service(
                    web::resource("/streams/{id}/recording")
                        .route(web::get().to(routes::recordings::latest)),
                )
                .service(
                    web::resource("/streams/{id}/recordings")
                        .route(web::get().to(routes::recordings::list)),
                )
                .service(
                    web::resource("/streams/{id}/recordings/{rec}")
                        .route(web::get().to(routes::recordings::show)),
                )
                .service(
                    web::resource("/streams/{id}/effects")
                        .route(web::get().to(routes::effects::show))
                        .route(web::put().to(routes::effects::replace)),
                ),
        )
}
