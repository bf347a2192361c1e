//! `/live/{mount}`: a chunked `PUT` source on the main port (`curl -T - ...`), and progressive
//! listening at `/live/{mount}/{variant}`, Icecast-style, with ICY metadata on request: an adapter
//! of the listener core (`veza_actors::stream::listener`, shared with the Icecast port) to an
//! actix-web streaming body.

use crate::http::error::ApiError;
use crate::ingest;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::registry::FindStream;
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::listener::ListenerFeed;
use veza_actors::stream::Listen;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(source, listen))]
pub struct Api;

/// `/live/{mount}` (a source's PUT) and `/live/{mount}/{variant}` (listeners).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/live/{mount}").route(web::put().to(source)))
        .service(web::resource("/live/{mount}/{variant}").route(web::get().to(listen)));
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How a source's `PUT` ended.
#[derive(Serialize, ToSchema)]
pub struct SourceEnded {
    /// `ended`.
    pub status: &'static str,
    /// Audio bytes received.
    pub bytes: u64,
}

/// Broadcast: the source's audio as a chunked (or sized) body, until it ends (`curl -T -`). The
/// stream key authenticates it as HTTP Basic credentials (`source:KEY`, any user name); the
/// Content-Type names the format. A revoked key or a disallowed owner ends it with 403, audio that
/// does not decode with 422.
#[utoipa::path(
    put,
    path = "/live/{mount}",
    tag = "live",
    params(("mount" = String, Path, description = "The stream's mount")),
    request_body(
        description = "The source's audio",
        content(("audio/mpeg"), ("audio/aac"), ("audio/ogg"), ("audio/wav"), ("audio/flac"))
    ),
    responses(
        (status = 200, description = "The source ended its body", body = SourceEnded),
        (status = 401, description = "No or a wrong stream key", body = crate::http::error::ErrorBody),
        (status = 415, description = "An audio format the server does not take", body = crate::http::error::ErrorBody)
    ),
    security(("stream_key" = []))
)]
pub async fn source(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let auth = header(req.headers(), header::AUTHORIZATION);
    let content_type = header(req.headers(), header::CONTENT_TYPE);
    let source = ingest::open(&state, &path, auth, content_type).await?;
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        if !source.session.connected() {
            break;
        }
        if let Some(why) = source.revoked() {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", why));
        }
        bytes += chunk.len() as u64;
        if source.input.send(chunk).await.is_err() {
            // The session refused the input (not decodable audio).
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_audio",
                "the input is not decodable audio of its Content-Type",
            ));
        }
    }
    Ok(HttpResponse::Ok().json(SourceEnded {
        status: "ended",
        bytes,
    }))
}

/// Listen: the variant's audio, endless, starting with the last couple of seconds; with
/// `Icy-MetaData: 1` the now-playing title is interleaved every `icy-metaint` bytes (Icecast
/// style). A stream live on another node answers 307 to that node.
#[utoipa::path(
    get,
    path = "/live/{mount}/{variant}",
    tag = "live",
    params(
        ("mount" = String, Path, description = "The stream's mount"),
        ("variant" = String, Path, description = "A variant of its ladder, e.g. `mp3-128`, `aac-64`, `opus-96`"),
        ("Icy-MetaData" = Option<String>, Header, description = "`1` for ICY metadata in the audio")
    ),
    responses(
        (status = 200, description = "The audio, until the broadcast ends",
            content(("audio/mpeg"), ("audio/aac"), ("audio/ogg")),
            headers(
                ("icy-name" = String, description = "The now-playing title"),
                ("icy-br" = String, description = "Bitrate in kbit/s"),
                ("icy-sr" = String, description = "Sample rate in Hz"),
                ("icy-metaint" = String, description = "Bytes between ICY metadata blocks (with `Icy-MetaData: 1`)")
            )),
        (status = 307, description = "Live on another node: the same path there",
            headers(("Location" = String, description = "The owning node's URL")))
    )
)]
pub async fn listen(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (mount, variant) = path.into_inner();
    let variant: Variant = variant
        .parse()
        .map_err(|e: String| ApiError::not_found(e))?;
    let session = state
        .registry
        .send(FindStream(mount.clone()))
        .await
        .map_err(ApiError::internal)?;
    let Some(session) = session else {
        return match crate::http::stream_redirect::to_owner(&state, &mount, &req).await {
            Some(redirect) => Ok(redirect),
            None => Err(ApiError::not_found("this mount is not live")),
        };
    };
    let listening = session
        .send(Listen(variant))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("{variant} is not produced for this stream")))?;
    let wants_icy = header(
        req.headers(),
        header::HeaderName::from_static("icy-metadata"),
    ) == Some("1");
    let feed = ListenerFeed::new(listening, wants_icy);
    let mut res = HttpResponse::Ok();
    for (name, value) in feed.headers() {
        res.insert_header((name, value));
    }
    // The session ends when the body is dropped (the listener left or was cut off).
    let session = state.analytics.listening(&mount, variant);
    let stream = feed.into_stream().map(move |chunk| {
        let _session = &session;
        Ok::<_, actix_web::Error>(chunk)
    });
    Ok(res.streaming(stream))
}
