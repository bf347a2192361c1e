//! One structured log line per request: method, path, status, duration, request id, and the user id
//! when the request was authenticated (the auth extractor leaves a [`LoggedUser`] behind), and the
//! trace id when tracing is on; the request counted for `/metrics`, and its span ended
//! (`crate::telemetry`).

use super::error::ApiError;
use super::request_id;
use crate::metrics::HttpMetrics;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use slog::{error, info, warn, Logger};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Set in the request extensions by the auth extractor.
#[derive(Debug, Clone, Copy)]
pub struct LoggedUser(pub i64);

pub fn middleware<S, B>(
    log: &Logger,
    metrics: &Arc<HttpMetrics>,
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let log = log.clone();
    let metrics = metrics.clone();
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let span = crate::telemetry::RequestSpan::start(&req);
    let fut = srv.call(req);
    async move {
        let res = fut.await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match &res {
            Ok(res) => {
                let status = res.status().as_u16();
                metrics.record(status, ms / 1000.0);
                // The route's pattern (`/api/v2/rooms/{id}`), never the path: bounded labels.
                let route = res.request().match_pattern();
                metrics.record_route(&method, route.as_deref(), ms / 1000.0);
                let request_id = res
                    .headers()
                    .get(&request_id::HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let user = res.request().extensions().get::<LoggedUser>().map(|u| u.0);
                let cause = res
                    .response()
                    .error()
                    .and_then(|e| e.as_error::<ApiError>())
                    .and_then(|e| e.cause.clone());
                let trace_id = span.as_ref().map(|s| s.trace_id());
                if let Some(span) = span {
                    span.finish(route.as_deref(), status, &request_id, user);
                }
                let kv = slog::o!(
                    "method" => method, "path" => path, "status" => status,
                    "duration_ms" => format!("{ms:.2}"), "request_id" => request_id, "user_id" => user,
                    "trace_id" => trace_id,
                );
                let line = log.new(kv);
                match (status, cause) {
                    (500.., cause) => error!(line, "request"; "error" => cause),
                    (_, Some(cause)) => warn!(line, "request"; "error" => cause),
                    _ => info!(line, "request"),
                }
            }
            Err(e) => {
                error!(log, "request"; "method" => method, "path" => path, "error" => e.to_string(), "duration_ms" => format!("{ms:.2}"));
            }
        }
        res
    }
}
