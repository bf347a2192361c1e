//! The embedded web page is served at `/` and renders user text safely.

mod common;

use actix_web::test::{self, TestRequest};
use common::{Kind, TestDb};

#[actix_web::test]
async fn the_page_is_served_at_the_root_with_a_csp() {
    let db = TestDb::new(Kind::Sqlite);
    let app = test::init_service(veza::http::app(db.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert!(headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(html.contains("<title>Veza</title>"));
    // No inline script, style or handler for the CSP to have to allow.
    assert!(!html.contains("<script>") && !html.contains("style=") && !html.contains("<style"));
    assert!(!html.contains(" onclick=") && !html.contains(" onload="));
    let res = test::call_service(&app, TestRequest::get().uri("/assets/app.js").to_request()).await;
    assert_eq!(res.status(), 200);
    let js = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    for needle in [
        "/api/v2/auth/login",
        "/api/v2/rooms",
        "/ws?access_token=",
        "\"history\"",
    ] {
        assert!(js.contains(needle), "script lacks {needle}");
    }
    // User text goes in with textContent only: the page never assigns HTML it did not write.
    assert!(
        !js.contains("innerHTML")
            && !js.contains("outerHTML")
            && !js.contains("insertAdjacentHTML")
    );
    let res =
        test::call_service(&app, TestRequest::get().uri("/assets/app.css").to_request()).await;
    assert_eq!(res.status(), 200);
}
