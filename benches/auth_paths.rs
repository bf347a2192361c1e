//! Cost of the per-request auth work, against a floor measured in the same run.
//!
//! `cargo bench --bench auth_paths` prints, per operation, the time per call and the ratio to the
//! baseline (one SHA-256 of the token: no verification can cost less than reading its bytes once).

use std::hint::black_box;
use std::time::{Duration, Instant};
use veza::auth::{opaque, password, JwtKeys, Role};
use veza_actors::UserId;

fn time_per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    // Warm up, then measure.
    for _ in 0..iterations.min(100) {
        f();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed() / iterations
}

fn report(name: &str, per_call: Duration, baseline: Duration) {
    println!(
        "{name:<36} {:>12.2} µs/call {:>12.0} calls/s {:>10.1}x baseline",
        per_call.as_secs_f64() * 1e6,
        1.0 / per_call.as_secs_f64(),
        per_call.as_secs_f64() / baseline.as_secs_f64()
    );
}

fn main() {
    let keys = JwtKeys::new(b"bench-secret-bench-secret-bench-secret!!");
    let now = veza_actors::ids::now_ms() / 1000;
    let (token, _) = keys
        .issue(
            UserId(384160701628809216),
            Role::User,
            384160701628809218,
            now,
            900,
        )
        .expect("issue");

    let baseline = time_per_call(200_000, || {
        black_box(opaque::hash(black_box(&token)));
    });
    report("baseline: sha256(token)", baseline, baseline);
    report(
        "jwt verify (HS256)",
        time_per_call(100_000, || {
            black_box(keys.verify(black_box(&token)).ok());
        }),
        baseline,
    );
    report(
        "jwt issue (HS256)",
        time_per_call(100_000, || {
            black_box(keys.issue(UserId(1), Role::User, 2, now, 900).ok());
        }),
        baseline,
    );
    report(
        "refresh token generate + hash",
        time_per_call(100_000, || {
            black_box(opaque::generate());
        }),
        baseline,
    );
    let stored = password::hash("correct horse battery").expect("hash");
    report(
        "argon2id verify (m=19456,t=2,p=1)",
        time_per_call(20, || {
            black_box(password::verify("correct horse battery", &stored).ok());
        }),
        baseline,
    );
}
