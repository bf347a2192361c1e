//! The node's outgoing webhook dispatcher: dedicated threads, never the async arbiters.
//!
//! One poller thread claims due deliveries from the store (woken at once by a local commit that
//! queued some, else every `webhook_poll_ms`) and hands them to `webhook_workers` caller threads.
//! A caller renders the body at the first attempt (or skips a message without a trigger word),
//! signs it, POSTs it with a blocking HTTP client whose resolver only returns checked addresses,
//! and records the attempt and the hook's circuit in one transaction. Any node may take any
//! delivery: claims are leases in the store.

use super::address::{self, AddressPolicy, CheckedResolver};
use super::payload::{self, Rendered};
use super::retry::{verdict, CallResult, RetryPolicy, Verdict};
use super::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::auth::totp::SecretBox;
use crate::config::webhooks::OutgoingWebhooks;
use crate::db::outgoing_webhooks::{self, OutgoingWebhook};
use crate::db::webhook_deliveries::{
    self as deliveries, Attempted, ClaimRules, Claimed, Delivery, DELIVERED, FAILED, PENDING,
};
use crate::db::webhook_outbox::OutboxWaker;
use crate::db::{messages, DbConnection, DbError, DbPool};
use rand::Rng;
use slog::{debug, warn, Logger};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use veza_actors::ids::now_ms;

/// Characters of an error kept in the delivery log.
const ERROR_SNIPPET: usize = 200;
/// Calls one hook may have in flight at once, over every node.
const PER_HOOK: i64 = 2;
/// How often a node forgets finished deliveries past `webhook_log_retention_hours`.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A handle on the node's dispatcher: wakes it.
#[derive(Clone)]
pub struct Dispatcher {
    wake: SyncSender<()>,
}

impl Dispatcher {
    /// Starts the poller and callers (none when `webhook_workers` is 0: the handle still works).
    pub fn start(pool: DbPool, secrets: SecretBox, config: &OutgoingWebhooks, log: Logger) -> Self {
        let (wake, woken) = mpsc::sync_channel(1);
        if config.workers > 0 {
            let (jobs, queue) = mpsc::sync_channel::<Claimed>(config.workers);
            let caller = Arc::new(Caller {
                pool: pool.clone(),
                secrets,
                retry: config.retry(),
                agent: agent(config.addresses(), Duration::from_millis(config.timeout_ms)),
                log: log.clone(),
            });
            let queue = Arc::new(Mutex::new(queue));
            for i in 0..config.workers {
                let (caller, queue) = (caller.clone(), queue.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("webhook-{i}"))
                    .spawn(move || caller.run(&queue));
                if let Err(e) = spawned {
                    warn!(log, "cannot start a webhook caller thread"; "error" => e.to_string());
                }
            }
            let poller = Poller {
                pool,
                // A claim waits in the queue for at most one call, then the call may take its
                // lookup and its own timeout: the lease outlasts all three.
                rules: (
                    config.workers as i64,
                    (3 * config.timeout_ms + 30_000) as i64,
                    i64::from(config.circuit_failures),
                ),
                every: Duration::from_millis(config.poll_ms),
                keep_log: Duration::from_secs(config.log_retention_hours * 3600),
                log: log.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name("webhook-poller".into())
                .spawn(move || poller.run(&woken, &jobs));
            if let Err(e) = spawned {
                warn!(log, "cannot start the webhook poller"; "error" => e.to_string());
            }
        }
        Dispatcher { wake }
    }

    /// Look for due deliveries now.
    pub fn wake(&self) {
        // Full: a wake-up is pending already, which covers this one.
        let _pending_or_stopped_is_fine = self.wake.try_send(());
    }

    /// For the chat store: called after commits that queued deliveries.
    pub fn waker(&self) -> OutboxWaker {
        let me = self.clone();
        Arc::new(move || me.wake())
    }
}

fn agent(policy: AddressPolicy, timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .resolver(CheckedResolver { policy, timeout })
        .redirects(0)
        .timeout(timeout)
        .user_agent(concat!("Veza-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()
}

struct Poller {
    pool: DbPool,
    /// (claims at once, lease in ms, circuit threshold)
    rules: (i64, i64, i64),
    every: Duration,
    keep_log: Duration,
    log: Logger,
}

impl Poller {
    fn run(&self, woken: &Receiver<()>, jobs: &SyncSender<Claimed>) {
        let mut pruned = Instant::now();
        loop {
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                self.prune();
            }
            // Claim until nothing is due, then wait for a wake-up or the next poll.
            loop {
                let claimed = match self.claim() {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(self.log, "webhook poll failed"; "error" => e.to_string());
                        break;
                    }
                };
                let full = claimed.len() as i64 == self.rules.0;
                for job in claimed {
                    if jobs.send(job).is_err() {
                        return;
                    }
                }
                if !full {
                    break;
                }
            }
            match woken.recv_timeout(self.every) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn claim(&self) -> Result<Vec<Claimed>, DbError> {
        let (limit, lease_ms, circuit_threshold) = self.rules;
        let conn = &mut *self.pool.get()?;
        deliveries::claim_due(
            conn,
            &ClaimRules {
                now: now_ms() as i64,
                lease_ms,
                limit,
                circuit_threshold,
                per_hook: PER_HOOK,
            },
        )
    }

    /// The delivery log keeps finished rows for `webhook_log_retention_hours`.
    fn prune(&self) {
        let before = now_ms() as i64 - self.keep_log.as_millis() as i64;
        let pruned = self
            .pool
            .get()
            .and_then(|mut conn| deliveries::prune(&mut conn, before));
        if let Err(e) = pruned {
            warn!(self.log, "pruning the webhook delivery log failed"; "error" => e.to_string());
        }
    }
}

struct Caller {
    pool: DbPool,
    secrets: SecretBox,
    retry: RetryPolicy,
    agent: ureq::Agent,
    log: Logger,
}

impl Caller {
    fn run(&self, queue: &Mutex<Receiver<Claimed>>) {
        loop {
            let job = match queue.lock() {
                Ok(q) => q.recv(),
                Err(_) => return,
            };
            let Ok(claimed) = job else { return };
            let (id, token) = (claimed.delivery.id, claimed.token);
            if let Err(e) = self.deliver(claimed) {
                warn!(self.log, "webhook delivery not recorded"; "delivery" => id, "error" => e.to_string());
                if let Ok(mut conn) = self.pool.get() {
                    let _retried_after_the_lease_anyway = deliveries::release(&mut conn, id, token);
                }
            }
        }
    }

    fn deliver(&self, mut claimed: Claimed) -> Result<(), DbError> {
        let (delivery, hook) = (&mut claimed.delivery, &claimed.hook);
        let body = match delivery.payload.take() {
            Some(body) => body,
            None => {
                let conn = &mut *self.pool.get()?;
                match self.render(conn, delivery, hook)? {
                    Some(body) => body,
                    None => {
                        if claimed.trial {
                            outgoing_webhooks::trial_over(conn, hook.id)?;
                        }
                        return deliveries::remove(conn, delivery.id);
                    }
                }
            }
        };
        // No store connection is held while the endpoint takes its time.
        let (result, latency) = match self.secrets.open_for(hook.id, &hook.secret_sealed) {
            Some(secret) => self.call(hook, delivery, &secret, &body),
            None => (
                CallResult::Refused(
                    "the hook's secret cannot be opened (server key changed?)".into(),
                ),
                Duration::ZERO,
            ),
        };
        debug!(self.log, "webhook call"; "delivery" => delivery.id, "hook" => hook.id, "result" => format!("{result:?}"));
        self.record(&mut *self.pool.get()?, &claimed, &result, latency)
    }

    /// The body, stored for the retries; `None` when the delivery is not wanted.
    fn render(
        &self,
        conn: &mut DbConnection,
        delivery: &Delivery,
        hook: &OutgoingWebhook,
    ) -> Result<Option<String>, DbError> {
        let Some(message) = messages::view(conn, delivery.message_id)? else {
            return Ok(None);
        };
        match payload::render(delivery, hook, &message) {
            Rendered::Send(body) => {
                deliveries::set_payload(conn, delivery.id, &body)?;
                Ok(Some(body))
            }
            Rendered::Skip => Ok(None),
        }
    }

    fn call(
        &self,
        hook: &OutgoingWebhook,
        delivery: &Delivery,
        secret: &[u8],
        body: &str,
    ) -> (CallResult, Duration) {
        let started = Instant::now();
        if let Err(refused) = address::parse(&hook.url) {
            return (CallResult::Refused(refused.to_string()), Duration::ZERO);
        }
        let timestamp = (now_ms() / 1000) as i64;
        let answer = self
            .agent
            .post(&hook.url)
            .set("Content-Type", "application/json")
            .set("X-Veza-Event", &delivery.event)
            .set("X-Veza-Delivery", &delivery.id.to_string())
            .set(TIMESTAMP_HEADER, &timestamp.to_string())
            .set(
                SIGNATURE_HEADER,
                &signature::sign(secret, timestamp, body.as_bytes()),
            )
            .send_string(body);
        let result = match answer {
            Ok(r) => CallResult::Status {
                code: r.status(),
                retry_after: None,
            },
            Err(ureq::Error::Status(code, r)) => CallResult::Status {
                code,
                retry_after: r.header("Retry-After").and_then(|v| v.trim().parse().ok()),
            },
            Err(ureq::Error::Transport(t)) => {
                let refused = std::error::Error::source(&t)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied);
                if refused {
                    CallResult::Refused(t.to_string())
                } else {
                    CallResult::Transport(t.to_string())
                }
            }
        };
        (result, started.elapsed())
    }

    fn record(
        &self,
        conn: &mut DbConnection,
        claimed: &Claimed,
        result: &CallResult,
        latency: Duration,
    ) -> Result<(), DbError> {
        let (delivery, hook) = (&claimed.delivery, &claimed.hook);
        let now = now_ms() as i64;
        let verdict = verdict(result);
        let attempt = self.attempted(delivery, result, verdict, latency, now);
        let open_until = now + self.retry.circuit_open.as_millis() as i64;
        let threshold = i64::from(self.retry.circuit_failures);
        crate::db::write_txn::write_transaction(conn, |conn| {
            if !deliveries::record(conn, delivery.id, claimed.token, &attempt)? {
                // Another node took it over (the lease ran out) or the hook was revoked: its
                // outcome is theirs to record.
                warn!(self.log, "webhook delivery claim lost before its result was recorded"; "delivery" => delivery.id);
                return Ok(());
            }
            match verdict {
                Verdict::Delivered => outgoing_webhooks::succeeded(conn, hook.id),
                Verdict::Retry => {
                    let failures = outgoing_webhooks::failed(conn, hook.id, threshold, open_until)?;
                    if failures >= threshold {
                        warn!(self.log, "webhook circuit open"; "hook" => hook.id, "failures" => failures);
                    }
                    Ok(())
                }
                Verdict::GiveUp if claimed.trial => outgoing_webhooks::trial_over(conn, hook.id),
                Verdict::GiveUp => Ok(()),
            }
        })
    }

    /// The row as this attempt leaves it.
    fn attempted(
        &self,
        delivery: &Delivery,
        result: &CallResult,
        verdict: Verdict,
        latency: Duration,
        now: i64,
    ) -> Attempted {
        let attempts = delivery.attempts + 1;
        let (last_status, last_error) = match result {
            CallResult::Status { code, .. } if verdict == Verdict::Delivered => {
                (Some(i64::from(*code)), None)
            }
            CallResult::Status { code, .. } => {
                (Some(i64::from(*code)), Some(format!("HTTP {code}")))
            }
            CallResult::Transport(e) | CallResult::Refused(e) => {
                (None, Some(e.chars().take(ERROR_SNIPPET).collect()))
            }
        };
        let retry_after = match result {
            CallResult::Status { retry_after, .. } => *retry_after,
            _ => None,
        };
        let out_of_attempts = attempts >= i64::from(self.retry.max_attempts);
        let (status, next_attempt_at, finished_at) = match verdict {
            Verdict::Delivered => (DELIVERED, delivery.next_attempt_at, Some(now)),
            Verdict::GiveUp => (FAILED, delivery.next_attempt_at, Some(now)),
            Verdict::Retry if out_of_attempts => (FAILED, delivery.next_attempt_at, Some(now)),
            Verdict::Retry => {
                let wait = self.retry.backoff(
                    attempts as u32,
                    rand::thread_rng().gen::<f64>(),
                    retry_after,
                );
                (PENDING, now + wait.as_millis() as i64, None)
            }
        };
        Attempted {
            status,
            attempts,
            next_attempt_at,
            last_status,
            last_error,
            latency_ms: latency.as_millis() as i64,
            finished_at,
        }
    }
}
