//! The HTTP error type and the one place where lower-layer errors become statuses and codes.
//!
//! Every error response has the contract's shape `{"error":{"code","message"}}`: handler errors via
//! [`ApiError`], extractor errors via the `*_error_handler` functions, and errors that actix makes
//! itself (404, 405, ...) via [`json_errors`]. Internal causes go to the log, never to the client.

use crate::auth::AuthError;
use crate::db::DbError;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The internal cause, logged by the access log and never sent.
    pub cause: Option<String>,
    /// Seconds, sent as `Retry-After` (429 and 503).
    pub retry_after_s: Option<u64>,
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) of a refused request.
    pub rate_limit: Option<(u32, u32, u64)>,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Challenge,
    /// Sent as `ETag: "N"`: the current version of what a 409 `version_conflict` refused to
    /// change (a number, not a string, to keep the error small).
    pub etag: Option<std::num::NonZeroU64>,
}

/// How a 401 says to authenticate: a bearer token (the API) or a source's user and key (ingest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    Bearer,
    Basic,
}

impl Challenge {
    pub fn header(self) -> &'static str {
        match self {
            Challenge::Bearer => "Bearer",
            Challenge::Basic => "Basic realm=\"Veza\"",
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            cause: None,
            retry_after_s: None,
            rate_limit: None,
            challenge: Challenge::Bearer,
            etag: None,
        }
    }

    /// 429 with the number of seconds to wait.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        Self {
            retry_after_s: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {secs} s"),
            )
        }
    }

    /// A request refused by a rate limit, with its `RateLimit-*` figures.
    pub fn limited(
        rule: crate::limits::gcra::Rule,
        decision: crate::limits::gcra::Decision,
        what: &str,
    ) -> Self {
        let secs = ((decision.retry_after_ms.max(1) + 999) / 1000) as u64;
        Self {
            retry_after_s: Some(secs),
            rate_limit: Some((
                rule.limit,
                decision.remaining,
                ((decision.reset_ms.max(0) + 999) / 1000) as u64,
            )),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many {what}; retry in {secs} s"),
            )
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 409 `quota_exceeded`: the user owns `max` `what` already.
    pub fn quota(max: u64, what: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "quota_exceeded",
            format!("you own {max} {what} already, the most one account may; delete one first"),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 422 `validation_failed`: well-formed but not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503: the actor that would do this is not answering (shutting down); retry.
    pub fn unavailable() -> Self {
        Self {
            retry_after_s: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is busy or shutting down; retry",
            )
        }
    }

    /// A room actor's refusal as a REST error.
    pub fn from_proto(e: veza_actors::protocol::ProtoError) -> Self {
        use veza_actors::protocol::ErrorCode;
        let (status, code) = match e.code {
            ErrorCode::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorCode::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorCode::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorCode::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            // The room's store is unavailable (its `internal`): worth a retry.
            ErrorCode::Internal => return Self::unavailable(),
        };
        Self::new(status, code, e.message)
    }

    /// A 500 that tells the client nothing and keeps `cause` for the log.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal server error",
            )
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The contract's error body: `{"error":{"code","message"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": {"code": "not_found", "message": "no such room"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `unauthorized`, `invalid_credentials`, `totp_required`,
    /// `forbidden`, `reauth_required`, `not_found`, `method_not_allowed`, `conflict`,
    /// `username_taken`, `quota_exceeded`, `validation_failed`, `too_large`,
    /// `unsupported_media_type`, `rate_limited`, `internal`, `unavailable`, `overloaded`, ...
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The contract's error body.
pub fn error_body(code: &str, message: &str) -> ErrorBody {
    ErrorBody::new(code, message)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, self.challenge.header()));
        }
        if let Some(secs) = self.retry_after_s {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(version) = self.etag {
            res.insert_header((header::ETAG, format!("\"{version}\"")));
        }
        if let Some((limit, remaining, reset)) = self.rate_limit {
            res.insert_header(("RateLimit-Limit", limit.to_string()));
            res.insert_header(("RateLimit-Remaining", remaining.to_string()));
            res.insert_header(("RateLimit-Reset", reset.to_string()));
        }
        res.json(error_body(self.code, &self.message))
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                e.to_string(),
            ),
            AuthError::UsernameTaken => {
                Self::new(StatusCode::CONFLICT, "username_taken", e.to_string())
            }
            AuthError::Validation(message) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            ),
            AuthError::InvalidToken(message) => Self::unauthorized(message),
            AuthError::TokenReuse => Self::unauthorized(e.to_string()),
            AuthError::TotpRequired => {
                Self::new(StatusCode::UNAUTHORIZED, "totp_required", e.to_string())
            }
            AuthError::InvalidSecondFactor => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_totp", e.to_string())
            }
            AuthError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            AuthError::QuotaExceeded(message) => {
                Self::new(StatusCode::CONFLICT, "quota_exceeded", message)
            }
            AuthError::NotFound(message) => Self::not_found(message),
            AuthError::ReauthRequired => {
                Self::new(StatusCode::FORBIDDEN, "reauth_required", e.to_string())
            }
            AuthError::OAuthNotConfigured(_) => {
                Self::new(StatusCode::NOT_FOUND, "oauth_unavailable", e.to_string())
            }
            AuthError::OAuthState(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_state", message)
            }
            AuthError::OAuthFailed(message) => {
                Self::new(StatusCode::BAD_REQUEST, "oauth_failed", message)
            }
            AuthError::OAuthProvider(message) => {
                Self::new(StatusCode::BAD_GATEWAY, "provider_error", message)
            }
            AuthError::Db(db) => db.into(),
            AuthError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            // The pool timed out: the store is down or saturated; the client may retry.
            DbError::Pool(_) | DbError::Connect(_) => Self {
                cause: Some(e.to_string()),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable, try again",
                )
            },
            other => Self::internal(other),
        }
    }
}

impl From<crate::schedules::ScheduleError> for ApiError {
    fn from(e: crate::schedules::ScheduleError) -> Self {
        use crate::schedules::ScheduleError;
        match e {
            ScheduleError::Invalid(message) => Self::invalid(message),
            ScheduleError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "schedule_conflict", e.to_string())
            }
            ScheduleError::Db(db) => db.into(),
        }
    }
}

impl From<crate::playlists::PlaylistError> for ApiError {
    fn from(e: crate::playlists::PlaylistError) -> Self {
        use crate::playlists::PlaylistError;
        let message = e.to_string();
        match e {
            PlaylistError::NotFound | PlaylistError::ItemNotFound | PlaylistError::UserNotFound => {
                Self::not_found(message)
            }
            PlaylistError::ItemGone(_) => Self::new(StatusCode::CONFLICT, "item_gone", message),
            PlaylistError::TrackUnavailable(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "track_unavailable",
                message,
            ),
            PlaylistError::Forbidden(_) => Self::forbidden(message),
            PlaylistError::VersionConflict { current } => Self {
                etag: u64::try_from(current)
                    .ok()
                    .and_then(std::num::NonZeroU64::new),
                ..Self::new(StatusCode::CONFLICT, "version_conflict", message)
            },
            PlaylistError::Full(_) => Self::new(StatusCode::CONFLICT, "playlist_full", message),
            PlaylistError::Invalid(_) => Self::invalid(message),
            PlaylistError::Unchanged | PlaylistError::Position(_) => Self::internal(e),
            PlaylistError::Db(db) => db.into(),
        }
    }
}

impl From<crate::limits::hashing::Overloaded> for ApiError {
    fn from(e: crate::limits::hashing::Overloaded) -> Self {
        Self {
            retry_after_s: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string())
        }
    }
}

/// An outgoing webhook URL that may not be called: 422 `url_refused`, saying why.
impl From<crate::webhooks::address::Refused> for ApiError {
    fn from(e: crate::webhooks::address::Refused) -> Self {
        ApiError {
            cause: Some(e.to_string()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "url_refused",
                e.public_message(),
            )
        }
    }
}

impl From<crate::emoji::shortcode::InvalidShortcode> for ApiError {
    fn from(e: crate::emoji::shortcode::InvalidShortcode) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            e.to_string(),
        )
    }
}

impl From<crate::emoji::image::UploadError> for ApiError {
    fn from(e: crate::emoji::image::UploadError) -> Self {
        use crate::emoji::image::UploadError;
        let (status, code) = match e {
            UploadError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            UploadError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            UploadError::Unsupported => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            UploadError::TooManyPixels(..) | UploadError::Undecodable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_image")
            }
        };
        let busy = e == UploadError::Busy;
        Self {
            retry_after_s: busy.then_some(1),
            ..Self::new(status, code, e.to_string())
        }
    }
}

impl From<crate::uploads::UploadError> for ApiError {
    fn from(e: crate::uploads::UploadError) -> Self {
        use crate::uploads::storage::StorageError;
        use crate::uploads::UploadError;
        let message = e.to_string();
        match e {
            UploadError::TooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
            }
            UploadError::QuotaExceeded { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
            }
            UploadError::BadRequest(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            ),
            UploadError::NotFound | UploadError::Storage(StorageError::NotFound) => {
                Self::not_found("no such upload")
            }
            UploadError::Aborted => Self::bad_request(message),
            UploadError::Storage(StorageError::Io(cause)) => Self::internal(cause),
            UploadError::Db(db) => db.into(),
        }
    }
}

impl From<crate::tracks::TrackError> for ApiError {
    fn from(e: crate::tracks::TrackError) -> Self {
        use crate::tracks::TrackError;
        use crate::uploads::storage::StorageError;
        let message = e.to_string();
        match e {
            TrackError::Receive(e) => e.into(),
            TrackError::Unsupported => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message,
            ),
            TrackError::Undecodable(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "undecodable", message)
            }
            TrackError::Invalid(_) => Self::invalid(message),
            TrackError::Lyrics(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_lyrics", message)
            }
            TrackError::NotFound | TrackError::Storage(StorageError::NotFound) => {
                Self::not_found("no such track")
            }
            TrackError::Missing(_) => Self::not_found(message),
            TrackError::Storage(StorageError::Io(cause)) => Self::internal(cause),
            TrackError::Db(db) => db.into(),
        }
    }
}

/// A source refused at `PUT /live/{mount}`, `/live/{mount}/ws` or the Icecast port (which writes
/// this same status, challenge and body itself: `ingest::icecast`).
impl From<&crate::ingest::IngestError> for ApiError {
    fn from(e: &crate::ingest::IngestError) -> Self {
        use crate::ingest::IngestError;
        let (status, code) = match e {
            IngestError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            IngestError::UnknownMount => (StatusCode::NOT_FOUND, "not_found"),
            IngestError::MountInUse | IngestError::NotAllowed => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            IngestError::UnsupportedType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            IngestError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            IngestError::Store(_) | IngestError::Internal(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            IngestError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        };
        let mut api = Self::new(status, code, e.to_string());
        match e {
            IngestError::Unauthorized => api.challenge = Challenge::Basic,
            IngestError::Busy(_) => api.retry_after_s = Some(5),
            IngestError::Store(db) => api.cause = Some(db.to_string()),
            _ => {}
        }
        api
    }
}

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> Self {
        Self::from(&e)
    }
}

/// A stream session refusing a clip: 409 when nothing can be cut, 422 for the range.
impl From<veza_actors::stream::clip::ClipRefused> for ApiError {
    fn from(e: veza_actors::stream::clip::ClipRefused) -> Self {
        use veza_actors::stream::clip::ClipRefused;
        match e {
            ClipRefused::NoSource => {
                Self::new(StatusCode::CONFLICT, "no_clip_source", e.to_string())
            }
            ClipRefused::BadRange | ClipRefused::OutOfWindow { .. } => Self::invalid(e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

/// Body-extractor errors: 413 too large, 415 not JSON, 400 unreadable.
pub fn json_error_handler(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is larger than {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("invalid JSON body: {e}"))
        }
        other => ApiError::bad_request(format!("could not read the request body: {other}")),
    };
    api.into()
}

pub fn query_error_handler(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("invalid query string: {err}")).into()
}

pub fn path_error_handler(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::not_found(format!("no such resource: {err}")).into()
}

/// Rewrites any error response that is not already JSON (actix's own 404, 405, ...) into the
/// contract's shape, keeping its status and headers.
pub fn json_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = describe(status);
    let body = error_body(code, message).to_json();
    let (req, res) = res.into_parts();
    let mut res = res.set_body(body);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = ServiceResponse::new(req, res.map_into_boxed_body());
    Ok(ErrorHandlerResponse::Response(
        res.map_body(|_, body: BoxBody| EitherBody::right(body)),
    ))
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
        StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
        s if s.is_server_error() => ("internal", "internal server error"),
        _ => ("bad_request", "bad request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn api_errors_serialise_to_the_contract_shape() {
        let err = ApiError::from(AuthError::UsernameTaken);
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let body = to_bytes(res.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "username_taken");
        assert!(json["error"]["message"].is_string());
    }

    #[actix_web::test]
    async fn internal_causes_are_not_sent() {
        let err = ApiError::internal("disk on fire at /var/lib/secret");
        let body = to_bytes(err.error_response().into_body()).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("disk on fire"), "{text}");
        assert!(text.contains("\"internal\""), "{text}");
    }
}
