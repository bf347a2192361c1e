//! OpenTelemetry traces over OTLP/HTTP, off unless `otlp_endpoint` is set.
//!
//! [`init`] installs a tracer provider whose batch processor exports from its own thread (with a
//! blocking HTTP client, never on the async arbiters) to `{otlp_endpoint}/v1/traces`, and turns on
//! the actors' spans ([`veza_actors::telemetry`]). Spans: `HTTP {method} {route}` per request (a
//! child of the caller's W3C `traceparent` if it sent one; `http::access_log`), `ws.frame`,
//! `room.send`/`room.join`, `persistence.batch`, `stream.session` and the `stream.started` and
//! `stream.ended` events. Each request's span carries its `veza.request_id`, and its access-log line
//! the span's `trace_id`, so a log line and its trace find each other.

use crate::config::{Config, OtlpProtocol};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer};
use opentelemetry::{global, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("cannot export traces to otlp_endpoint: {0}")]
pub struct TelemetryError(String);

/// Keeps the exporter running; dropping it flushes the spans still queued (call it off the async
/// runtime: the exporter's client blocks).
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _unsent_spans_are_lost_on_error = self.provider.shutdown();
    }
}

/// Starts exporting spans if `otlp_endpoint` is set.
pub fn init(config: &Config) -> Result<Option<Telemetry>, TelemetryError> {
    let Some(endpoint) = &config.otlp_endpoint else {
        return Ok(None);
    };
    let protocol = match config.otlp_protocol {
        OtlpProtocol::Protobuf => Protocol::HttpBinary,
        OtlpProtocol::Json => Protocol::HttpJson,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .map_err(|e| TelemetryError(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name("veza")
        .with_attribute(KeyValue::new("veza.node_id", i64::from(config.node_id)))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    global::set_tracer_provider(provider.clone());
    veza_actors::telemetry::enable();
    Ok(Some(Telemetry { provider }))
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// One HTTP request's span.
pub struct RequestSpan {
    span: global::BoxedSpan,
    method: String,
}

impl RequestSpan {
    /// Starts the span of a request (`None` while tracing is off), under the caller's
    /// `traceparent` if it sent a valid one.
    pub fn start(req: &actix_web::dev::ServiceRequest) -> Option<Self> {
        if !veza_actors::telemetry::enabled() {
            return None;
        }
        let parent = TraceContextPropagator::new().extract(&Headers(req.headers()));
        let tracer = global::tracer(veza_actors::telemetry::SCOPE);
        let method = req.method().to_string();
        let span = tracer
            .span_builder(format!("HTTP {method}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", method.clone()),
                KeyValue::new("url.path", req.path().to_owned()),
            ])
            .start_with_context(&tracer, &parent);
        Some(Self { span, method })
    }

    /// The trace id, for the access log.
    pub fn trace_id(&self) -> String {
        self.span.span_context().trace_id().to_string()
    }

    /// Names the span after its route and records the answer; the span ends when dropped.
    pub fn finish(mut self, route: Option<&str>, status: u16, request_id: &str, user: Option<i64>) {
        if let Some(route) = route {
            self.span
                .update_name(format!("HTTP {} {route}", self.method));
            self.span
                .set_attribute(KeyValue::new("http.route", route.to_owned()));
        }
        self.span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        self.span
            .set_attribute(KeyValue::new("veza.request_id", request_id.to_owned()));
        if let Some(user) = user {
            self.span.set_attribute(KeyValue::new("veza.user_id", user));
        }
        if status >= 500 {
            self.span
                .set_status(Status::error(format!("HTTP {status}")));
        }
    }
}
