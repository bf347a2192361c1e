//! `/live/{mount}`: a chunked `PUT` source on the main port (`curl -T - ...`), and progressive
//! listening at `/live/{mount}/{variant}`, Icecast-style, with ICY metadata on request.

use crate::http::error::ApiError;
use crate::ingest;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use veza_actors::registry::FindStream;
use veza_actors::stream::icy::{IcyInterleaver, METAINT};
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::{Listen, Listening};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

/// `/live/{mount}` (a source's PUT) and `/live/{mount}/{variant}` (listeners).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/live/{mount}").route(web::put().to(source)))
        .service(web::resource("/live/{mount}/{variant}").route(web::get().to(listen)));
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `PUT /live/{mount}` with a chunked (or sized) body: the source's audio, until it ends.
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
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ended", "bytes": bytes})))
}

/// `GET /live/{mount}/{variant}`: the stream, starting with the last couple of seconds.
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
    let Listening {
        burst,
        live,
        title,
        variant,
    } = session
        .send(Listen(variant))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("{variant} is not produced for this stream")))?;
    let wants_icy = header(
        req.headers(),
        header::HeaderName::from_static("icy-metadata"),
    ) == Some("1");
    let name = title.borrow().clone();
    let icy = wants_icy.then(|| IcyInterleaver::new(METAINT));
    let stream = futures_util::stream::unfold(
        (burst.into_iter(), live, icy, title),
        |(mut burst, mut live, mut icy, title)| async move {
            let chunk = match burst.next() {
                Some(c) => {
                    // One burst chunk per poll: actix then flushes each to the socket instead of
                    // copying the whole burst into its write buffer (which would keep that
                    // capacity for the life of the connection).
                    tokio::task::yield_now().await;
                    c
                }
                None => match live.recv().await {
                    Ok(c) => c,
                    // Lagged: this listener cannot keep up; drop it rather than buffer for it.
                    Err(RecvError::Lagged(_)) => {
                        veza_actors::metrics::metrics().buffer_low.inc();
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            let out: Bytes = match icy.as_mut() {
                Some(i) => i.process(chunk, &title.borrow()),
                None => chunk,
            };
            Some((Ok::<_, actix_web::Error>(out), (burst, live, icy, title)))
        },
    );
    let mut res = HttpResponse::Ok();
    res.content_type(variant.content_type())
        .insert_header((header::CACHE_CONTROL, "no-cache, no-store"))
        .insert_header(("icy-name", name))
        .insert_header(("icy-br", variant.kbps.to_string()))
        .insert_header(("icy-sr", variant.sample_rate().to_string()))
        .insert_header(("icy-pub", "0"));
    if wants_icy {
        res.insert_header(("icy-metaint", METAINT.to_string()));
    }
    Ok(res.streaming(stream))
}
