//! The OpenAPI 3.1 document, assembled from each feature's `routes::<feature>::Api` (the
//! `#[utoipa::path]` annotations on its handlers) plus what every route shares: the security
//! schemes and the error shape, which is every operation's `default` response since any route may
//! answer 4xx/5xx with `{"error":{"code","message"}}`. `tests/openapi.rs` fails when a route
//! exists that the document does not describe, or the other way round.

use crate::http::error::ErrorBody;
use crate::http::routes;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi as _, ToSchema};

/// The name of the shared error response in `components.responses`.
const ERROR_RESPONSE: &str = "Error";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Veza",
        description = "Chat rooms, live audio streams and bots on one server. Ids are decimal strings \
            (64-bit snowflakes); times are milliseconds since the Unix epoch. Every error is \
            `{\"error\":{\"code\",\"message\"}}` with an HTTP status. The WebSocket protocol (`GET /ws`) \
            is described in docs/protocol.md.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only")
    ),
    components(schemas(ErrorBody)),
    modifiers(&Shared)
)]
struct Base;

struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /api/v2/auth/login` (15 minutes; renew with \
                         `POST /api/v2/auth/refresh`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bot",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Bot <token>`: a bot's token from `POST /api/v2/bots`.",
            ))),
        );
        components.add_security_scheme(
            "stream_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A source: user `source`, password the stream's key (from \
                         `POST /api/v2/streams`), as Icecast sources send it.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The access token in the query, for what a browser cannot send headers with \
                 (`GET /ws`, `<img src>` and download links of uploads).",
            ))),
        );
        components.responses.insert(
            ERROR_RESPONSE.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "An error: the status says which kind, `code` says precisely what.",
                    )
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
}

/// Every feature's part, named by its module, in the order `routes::configure_*` registers them.
fn parts() -> Vec<(&'static str, OpenApi)> {
    vec![
        ("web", routes::web::Api::openapi()),
        ("api_docs", routes::api_docs::Api::openapi()),
        ("health", routes::health::Api::openapi()),
        ("metrics", routes::metrics::Api::openapi()),
        ("ws", routes::ws::Api::openapi()),
        ("webhooks", routes::webhooks::Api::openapi()),
        ("live_ws", routes::live_ws::Api::openapi()),
        ("hls", routes::hls::Api::openapi()),
        ("live", routes::live::Api::openapi()),
        ("emoji", routes::emoji::Api::openapi()),
        ("uploads", routes::uploads::Api::openapi()),
        ("tracks", routes::tracks::Api::openapi()),
        ("track_lyrics", routes::track_lyrics::Api::openapi()),
        ("playlists", routes::playlists::Api::openapi()),
        ("status", routes::status::Api::openapi()),
        ("production", routes::production::Api::openapi()),
        ("auth", routes::auth::Api::openapi()),
        ("two_factor", routes::two_factor::Api::openapi()),
        ("oauth", routes::oauth::Api::openapi()),
        ("bots", routes::bots::Api::openapi()),
        ("users", routes::users::Api::openapi()),
        ("admin", routes::admin::Api::openapi()),
        ("rooms", routes::rooms::Api::openapi()),
        ("room_commands", routes::room_commands::Api::openapi()),
        (
            "outgoing_webhooks",
            routes::outgoing_webhooks::Api::openapi(),
        ),
        ("conversations", routes::conversations::Api::openapi()),
        ("threads", routes::threads::Api::openapi()),
        ("pins", routes::pins::Api::openapi()),
        ("notifications", routes::notifications::Api::openapi()),
        ("blocks", routes::blocks::Api::openapi()),
        ("streams", routes::streams::Api::openapi()),
        ("clips", routes::clips::Api::openapi()),
        ("recordings", routes::recordings::Api::openapi()),
        ("effects", routes::effects::Api::openapi()),
        ("schedules", routes::schedules::Api::openapi()),
        ("analytics", routes::analytics::Api::openapi()),
        ("follows", routes::follows::Api::openapi()),
        ("autodj", routes::autodj::Api::openapi()),
        ("live_lyrics", routes::live_lyrics::Api::openapi()),
    ]
}

/// The document, and the names of schemas that two features define differently (merging would
/// silently keep one of them; `tests/openapi.rs` wants none).
fn assemble() -> (OpenApi, Vec<String>) {
    let mut doc = Base::openapi();
    let mut clashes = Vec::new();
    for (module, mut part) in parts() {
        for_each_operation(&mut part, |op| {
            // Handlers are named per feature (`list`, `create`): qualify them.
            let id = op.operation_id.take().unwrap_or_default();
            op.operation_id = Some(format!("{module}.{id}"));
        });
        if let (Some(have), Some(new)) = (&doc.components, &part.components) {
            for (name, schema) in &new.schemas {
                let other = have.schemas.get(name);
                if other.is_some_and(|o| {
                    serde_json::to_value(o).ok() != serde_json::to_value(schema).ok()
                }) {
                    clashes.push(format!("{module}: {name}"));
                }
            }
        }
        doc.merge(part);
    }
    for_each_operation(&mut doc, add_error_response);
    (doc, clashes)
}

fn for_each_operation(doc: &mut OpenApi, mut f: impl FnMut(&mut Operation)) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            f(operation);
        }
    }
}

/// The whole document.
pub fn document() -> OpenApi {
    assemble().0
}

/// Schema names two features define differently: each must be renamed (`#[schema(as = ...)]`).
pub fn schema_name_clashes() -> Vec<String> {
    assemble().1
}

/// Every operation may fail with the shared error shape.
fn add_error_response(operation: &mut Operation) {
    operation
        .responses
        .responses
        .entry("default".to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)));
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}
