//! The blocking HTTP client that talks to providers: no redirects followed (a redirect from a token
//! or API endpoint is an error, never a hop to wherever it points), short timeouts, error statuses
//! handed back as responses so the OAuth error body can be read.

use std::io::Read;
use std::time::Duration;

/// Largest provider response read (tokens, user info, signing keys are all small).
const MAX_BODY: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Transport(String),
    #[error("reading the response: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Http(#[from] http::Error),
}

#[derive(Clone)]
pub struct ProviderHttp {
    agent: ureq::Agent,
}

impl Default for ProviderHttp {
    fn default() -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(15))
                .user_agent(concat!("veza/", env!("CARGO_PKG_VERSION")))
                .build(),
        }
    }
}

impl ProviderHttp {
    /// Runs one request for the `oauth2` crate (its `SyncHttpClient` is any such function).
    pub fn call(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let uri = request.uri().to_string();
        let mut call = self.agent.request(request.method().as_str(), &uri);
        for (name, value) in request.headers() {
            let value = value
                .to_str()
                .map_err(|_| HttpError::Transport(format!("header {name} is not text")))?;
            call = call.set(name.as_str(), value);
        }
        let result = if request.method() == http::Method::GET {
            call.call()
        } else {
            call.send_bytes(request.body())
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(HttpError::Transport(e.to_string())),
        };
        let mut builder = http::Response::builder().status(response.status());
        if let Some(ct) = response.header("content-type") {
            builder = builder.header(http::header::CONTENT_TYPE, ct);
        }
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)?;
        Ok(builder.body(body)?)
    }

    /// GET a JSON document, with a bearer token when given; an error status is an error.
    pub fn get_json(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<serde_json::Value, HttpError> {
        let mut builder = http::Request::builder()
            .method(http::Method::GET)
            .uri(url)
            .header(http::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self.call(builder.body(Vec::new())?)?;
        if !response.status().is_success() {
            return Err(HttpError::Transport(format!(
                "GET {url}: HTTP {}",
                response.status().as_u16()
            )));
        }
        serde_json::from_slice(response.body())
            .map_err(|e| HttpError::Transport(format!("GET {url}: not JSON: {e}")))
    }
}
