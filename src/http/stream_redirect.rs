//! Listeners and HLS requests for a stream that is live on another node: `307 Temporary Redirect`
//! to the same path and query on the owning node's public URL (`VEZA_PUBLIC_URL`).

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// The redirect, if another node serves `mount` now.
pub async fn to_owner(state: &AppState, mount: &str, req: &HttpRequest) -> Option<HttpResponse> {
    let owner = state.stream_elsewhere(mount).await?;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let location = format!("{}{path}", owner.url.trim_end_matches('/'));
    Some(
        HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish(),
    )
}
