//! Built-in TLS: the real binary with a certificate made by the test serves HTTPS with TLS 1.3
//! only, sends HSTS, and refuses TLS 1.2; a half-configured TLS is refused at start.

mod common;

use common::process::{free_port, sigterm_and_wait, veza};
use std::process::{Command, Stdio};
use std::time::Duration;

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(args).output().expect("curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn https_with_tls_1_3_only_and_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let mut child = veza()
        .current_dir(dir.path())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{}", free_port()))
        .env("VEZA_LOG_FORMAT", "json")
        .env("VEZA_TLS_CERT", &cert_path)
        .env("VEZA_TLS_KEY", &key_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("https://localhost:{port}/health");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = cert_path.display().to_string();
    let mut up = false;
    for _ in 0..100 {
        if curl(&["-sf", "--resolve", &resolve, "--cacert", &cacert, &url]).0 {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "HTTPS never answered");
    let (ok, out) = curl(&[
        "-sSi",
        "--tlsv1.3",
        "--resolve",
        &resolve,
        "--cacert",
        &cacert,
        &url,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.to_lowercase()
            .contains("strict-transport-security: max-age="),
        "{out}"
    );
    // TLS 1.2 at most: refused.
    let (ok, out) = curl(&[
        "-sS",
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        "--resolve",
        &resolve,
        "--cacert",
        &cacert,
        &url,
    ]);
    assert!(!ok, "TLS 1.2 must be refused: {out}");
    // Plain HTTP on the TLS port does not get an answer either.
    let (ok, _) = curl(&[
        "-sf",
        "--max-time",
        "3",
        &format!("http://127.0.0.1:{port}/health"),
    ]);
    assert!(!ok);
    assert!(sigterm_and_wait(&mut child).success());
}

#[test]
fn half_configured_tls_is_refused_at_start() {
    let out = veza()
        .args(["config", "check"])
        .env("VEZA_TLS_CERT", "/nonexistent/cert.pem")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_cert"));
}
