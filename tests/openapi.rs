//! The OpenAPI document describes exactly the routes the app serves: every (method, path) the
//! router answers is in `/api/v2/openapi.json`, and everything there is routed. The router's
//! routes are read from actix's own resource map, and each method is probed: a method a resource
//! does not route gets actix's 405 (or, for a route guarded by its method, the router's 404),
//! whatever the handler would have said.

mod common;

use actix_web::test::{self, TestRequest};
use actix_web::{web, HttpRequest};
use common::{Kind, TestDb};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const PROBE: &str = "/__resource_map";

async fn resource_map(req: HttpRequest) -> String {
    format!("{:#?}", req.resource_map())
}

/// A pattern as the document writes it: `{name}` for `{name}` and `{name:regex}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_regex = false;
    for c in path.chars() {
        match c {
            ':' if out.rfind('{') > out.rfind('}') => in_regex = true,
            '}' => {
                in_regex = false;
                out.push(c);
            }
            _ if in_regex => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every leaf pattern of actix's resource map (its pretty `Debug`, the only public view of the
/// tree), scopes' prefixes prepended.
fn leaf_patterns(debug: &str) -> Vec<String> {
    struct Node {
        indent: usize,
        pattern: Option<String>,
    }
    let lines: Vec<&str> = debug.lines().collect();
    let mut stack: Vec<Node> = Vec::new();
    let mut leaves = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.ends_with("ResourceMap {") {
            stack.push(Node {
                indent,
                pattern: None,
            });
        } else if text.starts_with("patterns: Single(") {
            let quoted = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            let pattern = quoted.trim_end_matches(',').trim_matches('"').to_owned();
            if let Some(top) = stack.last_mut() {
                if top.pattern.is_none() {
                    top.pattern = Some(pattern);
                }
            }
        } else if text == "nodes: None," {
            let full: String = stack.iter().filter_map(|n| n.pattern.as_deref()).collect();
            leaves.push(full);
        } else if text.starts_with('}') && stack.last().is_some_and(|n| n.indent == indent) {
            stack.pop();
        }
        i += 1;
    }
    leaves
}

fn substitute(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push('0');
                }
            }
            '}' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                out.insert((method.to_owned(), normalise(path)));
            }
        }
    }
    out
}

/// The probes reach handlers that read the store (unknown ids), so on both backends.
async fn every_route_is_in_the_document_and_every_documented_route_exists(kind: Kind) {
    let db = TestDb::new(kind);
    let app =
        test::init_service(veza::http::app(db.state()).route(PROBE, web::get().to(resource_map)))
            .await;
    let map = test::call_and_read_body(&app, TestRequest::get().uri(PROBE).to_request()).await;
    let patterns: Vec<String> = leaf_patterns(&String::from_utf8_lossy(&map))
        .into_iter()
        .filter(|p| p != PROBE)
        .collect();
    assert!(
        patterns.len() > 60 && patterns.iter().any(|p| p == "/api/v2/rooms/{id}"),
        "the resource map was not read: {patterns:?}"
    );
    let mut routed = BTreeSet::new();
    for pattern in &patterns {
        let uri = substitute(pattern);
        for method in METHODS {
            let req = TestRequest::default()
                .method(method.parse().expect("method"))
                .uri(&uri)
                .insert_header(("content-type", "application/json"))
                .to_request();
            let res = test::call_service(&app, req).await;
            let status = res.status();
            let body: Value =
                serde_json::from_slice(&test::read_body(res).await).unwrap_or_default();
            // A resource without this method says 405; a route whose guard is the method (an
            // `App::route`) is skipped and the request ends at the default service's 404.
            let unrouted =
                status == 405 || (status == 404 && body["error"]["message"] == "no such route");
            if !unrouted {
                routed.insert((method.to_owned(), normalise(pattern)));
            }
        }
    }

    let body = test::call_and_read_body(
        &app,
        TestRequest::get().uri("/api/v2/openapi.json").to_request(),
    )
    .await;
    let doc: Value = serde_json::from_slice(&body).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let described = documented(&doc);
    let undocumented: Vec<_> = routed.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[actix_web::test]
async fn every_operation_has_an_id_a_tag_an_error_shape_and_known_security() {
    let db = TestDb::new(Kind::Sqlite);
    let app = test::init_service(veza::http::app(db.state())).await;
    let body = test::call_and_read_body(
        &app,
        TestRequest::get().uri("/api/v2/openapi.json").to_request(),
    )
    .await;
    let doc: Value = serde_json::from_slice(&body).expect("JSON");
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let here = format!("{method} {path}");
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(
                !id.is_empty() && ids.insert(id.clone()),
                "{here}: operationId {id:?}"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{here}: no tag"
            );
            assert!(
                op["responses"]["default"].is_object(),
                "{here}: no error response"
            );
            let ok = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .any(|k| k.starts_with('1') || k.starts_with('2') || k.starts_with('3'));
            assert!(ok, "{here}: no success response");
            for requirement in op["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().expect("requirement").keys() {
                    assert!(schemes.contains_key(name), "{here}: unknown scheme {name}");
                }
            }
        }
    }
    let clashes = veza::http::openapi::schema_name_clashes();
    assert!(
        clashes.is_empty(),
        "schemas named alike by two features: {clashes:?}"
    );
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert!(error.is_object(), "the error shape is a component");
}

#[actix_web::test]
async fn the_docs_page_is_served_from_the_binary_under_the_strict_csp() {
    let db = TestDb::new(Kind::Sqlite);
    let app = test::init_service(veza::http::app(db.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/api/docs").to_request()).await;
    assert_eq!(res.status(), 200);
    let csp = res
        .headers()
        .get("content-security-policy")
        .expect("a csp")
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = String::from_utf8(test::read_body(res).await.to_vec()).expect("utf-8");
    assert!(
        !html.contains("<script>") && !html.contains("http"),
        "{html}"
    );
    for asset in ["init.js", "swagger-ui-bundle.js", "swagger-ui.css"] {
        let uri = format!("/api/docs/{asset}");
        let res = test::call_service(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(res.status(), 200, "{uri}");
        assert!(test::read_body(res).await.len() > 100, "{uri}");
    }
    let res = test::call_service(
        &app,
        TestRequest::get().uri("/api/docs/nope.js").to_request(),
    )
    .await;
    assert_eq!(res.status(), 404);
}

on_both_backends!(every_route_is_in_the_document_and_every_documented_route_exists);
