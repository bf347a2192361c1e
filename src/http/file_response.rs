//! Audio files (recordings, clips) served from disk in chunks with range requests, ETag and
//! Last-Modified (`actix-files`' `NamedFile`): a slow reader of an hour-long recording costs a
//! chunk of memory, not the file.

use crate::http::error::ApiError;
use actix_files::NamedFile;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{mime, HttpRequest, HttpResponse};
use std::path::PathBuf;

/// `path` as `audio/mpeg`, shown inline under `filename`; 404 with `missing` if it is not there.
pub async fn mp3(
    req: &HttpRequest,
    path: PathBuf,
    filename: String,
    missing: &'static str,
) -> Result<HttpResponse, ApiError> {
    let file = NamedFile::open_async(path)
        .await
        .map_err(|_| ApiError::not_found(missing))?;
    let audio: mime::Mime = "audio/mpeg"
        .parse()
        .map_err(|e: mime::FromStrError| ApiError::internal(e))?;
    Ok(file
        .set_content_type(audio)
        .set_content_disposition(ContentDisposition {
            disposition: DispositionType::Inline,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .into_response(req))
}
