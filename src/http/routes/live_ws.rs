//! `GET /live/{mount}/ws`: a live source over a WebSocket, for browsers (which cannot send an
//! Icecast `PUT`). The stream key comes as `?key=` (a browser cannot set Authorization on a
//! WebSocket; Basic auth works too), the format as `?type=audio/mpeg` (or a Content-Type header).
//! Binary frames carry the audio; a text frame `{"title":"..."}` sets the now-playing title. The
//! checks (401/403/404/415) answer before the upgrade, as plain HTTP errors.

use crate::http::error::ApiError;
use crate::ingest;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use veza_actors::stream::SetTitle;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(source))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/live/{mount}/ws").route(web::get().to(source)));
}

#[derive(Deserialize, IntoParams)]
pub struct SourceQuery {
    /// The stream key (else HTTP Basic credentials `source:KEY` in `Authorization`).
    key: Option<String>,
    /// The audio format of the binary frames (else the Content-Type header): `audio/mpeg`,
    /// `audio/aac`, `audio/ogg`, `audio/wav` or `audio/flac`.
    #[serde(rename = "type")]
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct TitleFrame {
    title: String,
}

/// Largest audio frame accepted (a browser sends ~100 ms chunks; this is generous).
const MAX_FRAME: usize = 1 << 20;

/// Broadcast from a browser over a WebSocket: binary frames carry the audio (at most 1 MiB each),
/// a text frame `{"title":"..."}` sets the now-playing title; the server says
/// `{"type":"live","mount":...}` once on air. The key and format checks answer before the upgrade
/// as plain HTTP errors (401/403/404/415).
#[utoipa::path(
    get,
    path = "/live/{mount}/ws",
    tag = "live",
    params(("mount" = String, Path, description = "The stream's mount"), SourceQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol")),
    security(("stream_key" = []), ())
)]
pub async fn source(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<SourceQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let headers = req.headers();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let header_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = query.content_type.or(header_type);
    let source = match query.key {
        Some(key) => {
            ingest::open_with_key(&state, &path, Some(key), content_type.as_deref()).await?
        }
        None => ingest::open(&state, &path, authorization, content_type.as_deref()).await?,
    };
    let (response, mut session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let mut stream = stream.max_frame_size(MAX_FRAME);
    let mount = path.into_inner();
    actix_web::rt::spawn(async move {
        let hello = json!({"type": "live", "mount": mount}).to_string();
        let _ = session.text(hello).await;
        let mut close = None;
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Binary(bytes)) => {
                    if let Some(why) = source.revoked() {
                        close = Some(CloseReason {
                            code: CloseCode::Policy,
                            description: Some(why),
                        });
                        break;
                    }
                    if !source.session.connected() || source.input.send(bytes).await.is_err() {
                        close = Some(CloseReason {
                            code: CloseCode::Unsupported,
                            description: Some(
                                "the input is not decodable audio of its type".into(),
                            ),
                        });
                        break;
                    }
                }
                Ok(Message::Text(text)) => match serde_json::from_str::<TitleFrame>(&text) {
                    Ok(frame) => {
                        let title: String = frame
                            .title
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(255)
                            .collect();
                        source.session.do_send(SetTitle(title));
                    }
                    Err(e) => {
                        let error = json!({"type": "error", "error": {
                            "code": "bad_request",
                            "message": format!("text frames are {{\"title\":\"...\"}}: {e}"),
                        }});
                        let _ = session.text(error.to_string()).await;
                    }
                },
                Ok(Message::Ping(p)) => {
                    let _ = session.pong(&p).await;
                }
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(_) => {
                    close = Some(CloseReason {
                        code: CloseCode::Size,
                        description: Some(format!("frames are at most {MAX_FRAME} bytes")),
                    });
                    break;
                }
            }
        }
        // Dropping the input ends the broadcast.
        drop(source);
        let _ = session.close(close).await;
    });
    Ok(response)
}
