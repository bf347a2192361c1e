//! [`RedisBus`]: publishes through one multiplexed connection (pipelined, in order), receives
//! through one dedicated pub/sub connection. Both reconnect on their own; while Redis is down,
//! publishes are dropped (the store has every committed fact and rooms poll it), `is_up` is false,
//! and on reconnect every subscription is renewed and reported as [`Subscribed`] so rooms catch up.
//! A subscription that goes silent is not trusted: every node (this one too) publishes a heartbeat
//! on the nodes topic each second, so hearing nothing at all for [`SILENCE`] means the connection
//! is half-open (a peer or middlebox gone without a reset) and it is dropped and made again.

use super::channels;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use slog::{info, warn, Logger};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use veza_actors::bus::{Bus, BusState, Incoming, Subscribed, Topic};
use veza_actors::Registry;

/// Publishes waiting for Redis at most; past that they are dropped (and counted).
const PUBLISH_QUEUE: usize = 65_536;
/// Publishes sent in one pipeline at most.
const PIPELINE: usize = 512;
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A subscriber connection that hears nothing this long (not even this node's own heartbeat,
/// published every second) is taken for dead and replaced.
pub const SILENCE: Duration = Duration::from_secs(5);

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct BusMetrics {
    pub published: AtomicU64,
    pub publish_dropped: AtomicU64,
    pub received: AtomicU64,
    pub reconnects: AtomicU64,
}

impl BusMetrics {
    /// The bus's lines of `/metrics`.
    pub fn render(&self, out: &mut String, up: bool) {
        use crate::metrics::{counter, gauge};
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        gauge(
            out,
            "veza_redis_up",
            "1 while the Redis bus is connected, 0 while it is down.",
            u8::from(up),
        );
        counter(
            out,
            "veza_bus_published_total",
            "Events this node published to the other nodes.",
            n(&self.published),
        );
        counter(
            out,
            "veza_bus_publish_dropped_total",
            "Events not published (Redis down or queue full); rooms recover them from the store.",
            n(&self.publish_dropped),
        );
        counter(
            out,
            "veza_bus_received_total",
            "Events received from the bus.",
            n(&self.received),
        );
        counter(
            out,
            "veza_bus_connects_total",
            "Times the subscriber connected to Redis.",
            n(&self.reconnects),
        );
    }
}

enum Subscription {
    Add(Topic),
    Remove(Topic),
}

pub struct RedisBus {
    prefix: String,
    publish: mpsc::Sender<(String, Bytes)>,
    subscriptions: mpsc::UnboundedSender<Subscription>,
    up: Arc<AtomicBool>,
    pub metrics: Arc<BusMetrics>,
    /// Taken by [`RedisBus::start`].
    pending: std::sync::Mutex<Option<Pending>>,
}

struct Pending {
    publish: mpsc::Receiver<(String, Bytes)>,
    subscriptions: mpsc::UnboundedReceiver<Subscription>,
}

impl RedisBus {
    /// A bus on `url`; nothing connects until [`RedisBus::start`].
    pub fn new(url: &str, prefix: &str) -> Result<(Self, redis::Client), redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (subscriptions, subscriptions_rx) = mpsc::unbounded_channel();
        Ok((
            Self {
                prefix: prefix.to_owned(),
                publish,
                subscriptions,
                up: Arc::new(AtomicBool::new(false)),
                metrics: Arc::default(),
                pending: std::sync::Mutex::new(Some(Pending {
                    publish: publish_rx,
                    subscriptions: subscriptions_rx,
                })),
            },
            client,
        ))
    }

    /// Starts the publisher and subscriber tasks on the current actix arbiter, delivering to the
    /// registry. Call once, inside the actix system.
    pub fn start(&self, client: redis::Client, registry: actix::Addr<Registry>, log: Logger) {
        let Some(pending) = self.pending.lock().ok().and_then(|mut p| p.take()) else {
            return;
        };
        actix_rt::spawn(publisher(
            client.clone(),
            pending.publish,
            self.metrics.clone(),
            log.clone(),
        ));
        actix_rt::spawn(
            Subscriber {
                client,
                prefix: self.prefix.clone(),
                commands: pending.subscriptions,
                wanted: HashSet::new(),
                registry,
                up: self.up.clone(),
                metrics: self.metrics.clone(),
                log,
            }
            .run(),
        );
    }
}

impl Bus for RedisBus {
    fn publish(&self, topic: Topic, payload: Bytes) {
        let channel = channels::name(&self.prefix, topic);
        if self.publish.try_send((channel, payload)).is_err() {
            self.metrics.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn subscribe(&self, topic: Topic) {
        let _task_gone_only_at_exit = self.subscriptions.send(Subscription::Add(topic));
    }

    fn unsubscribe(&self, topic: Topic) {
        let _task_gone_only_at_exit = self.subscriptions.send(Subscription::Remove(topic));
    }

    fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

/// Sends queued publishes in pipelines, in order, over one connection. A batch that fails is sent
/// once more on a fresh connection; only if Redis refuses that too is it dropped (counted; rooms
/// recover messages from the store). No batch is skipped while a connection could be made.
async fn publisher(
    client: redis::Client,
    mut queue: mpsc::Receiver<(String, Bytes)>,
    metrics: Arc<BusMetrics>,
    log: Logger,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut batch = Vec::with_capacity(PIPELINE);
    while queue.recv_many(&mut batch, PIPELINE).await > 0 {
        let n = batch.len() as u64;
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(&payload[..]).ignore();
        }
        let mut sent = false;
        for _attempt in 0..2 {
            if conn.is_none() {
                conn = connect(&client).await;
            }
            let Some(c) = conn.as_mut() else { break };
            match tokio::time::timeout(CONNECT_TIMEOUT, pipe.query_async::<()>(c)).await {
                Ok(Ok(())) => {
                    sent = true;
                    break;
                }
                Ok(Err(e)) => {
                    warn!(log, "publishing to Redis failed"; "error" => e.to_string());
                    conn = None;
                }
                Err(_) => {
                    warn!(log, "publishing to Redis timed out");
                    conn = None;
                }
            }
        }
        let counter = if sent {
            &metrics.published
        } else {
            &metrics.publish_dropped
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

async fn connect(client: &redis::Client) -> Option<MultiplexedConnection> {
    tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .ok()?
        .ok()
}

struct Subscriber {
    client: redis::Client,
    prefix: String,
    commands: mpsc::UnboundedReceiver<Subscription>,
    /// What we should be subscribed to (kept across reconnects).
    wanted: HashSet<Topic>,
    registry: actix::Addr<Registry>,
    up: Arc<AtomicBool>,
    metrics: Arc<BusMetrics>,
    log: Logger,
}

impl Subscriber {
    async fn run(mut self) {
        let mut backoff = RETRY_MIN;
        let mut ever_up = false;
        loop {
            match self.session().await {
                Ok(Some(())) => return,
                Ok(None) => backoff = RETRY_MIN,
                Err(e) => {
                    if self.up.load(Ordering::Relaxed) || !ever_up {
                        warn!(self.log, "Redis bus unavailable"; "error" => e.to_string());
                    }
                }
            }
            if self.up.swap(false, Ordering::Relaxed) {
                ever_up = true;
                self.registry.do_send(BusState { up: false });
            }
            // Keep the wanted set current while waiting to reconnect.
            let deadline = tokio::time::sleep(backoff);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => self.note(cmd),
                        None => return,
                    },
                }
            }
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    }

    /// A subscription change while disconnected: remembered for the next connection.
    fn note(&mut self, cmd: Subscription) {
        match cmd {
            Subscription::Add(t) => self.wanted.insert(t),
            Subscription::Remove(t) => self.wanted.remove(&t),
        };
    }

    /// One connection's life. `Ok(Some(()))`: the bus was dropped (exit); `Ok(None)`: the
    /// connection ended after working; `Err`: it could not be set up.
    async fn session(&mut self) -> Result<Option<()>, redis::RedisError> {
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| {
                redis::RedisError::from((redis::ErrorKind::IoError, "connect timed out"))
            })??;
        let (mut sink, mut stream) = pubsub.split();
        let wanted: Vec<Topic> = self.wanted.iter().copied().collect();
        for topic in &wanted {
            sink.subscribe(channels::name(&self.prefix, *topic)).await?;
        }
        if self.metrics.reconnects.fetch_add(1, Ordering::Relaxed) > 0 {
            info!(self.log, "Redis bus reconnected"; "subscriptions" => wanted.len());
        }
        self.up.store(true, Ordering::Relaxed);
        self.registry.do_send(BusState { up: true });
        for topic in wanted {
            self.registry.do_send(Subscribed(topic));
        }
        let mut heard = tokio::time::Instant::now();
        let mut watchdog = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = watchdog.tick() => {
                    if self.wanted.contains(&Topic::Nodes) && heard.elapsed() > SILENCE {
                        warn!(self.log, "Redis subscription silent; reconnecting"; "silent_ms" => heard.elapsed().as_millis() as u64);
                        return Ok(None);
                    }
                }
                cmd = self.commands.recv() => {
                    let Some(cmd) = cmd else { return Ok(Some(())) };
                    match cmd {
                        Subscription::Add(topic) => {
                            if self.wanted.insert(topic) {
                                sink.subscribe(channels::name(&self.prefix, topic)).await?;
                            }
                            // Reported even if already wanted: the asker catches up either way.
                            self.registry.do_send(Subscribed(topic));
                        }
                        Subscription::Remove(topic) => {
                            if self.wanted.remove(&topic) {
                                sink.unsubscribe(channels::name(&self.prefix, topic)).await?;
                            }
                        }
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else { return Ok(None) };
                    heard = tokio::time::Instant::now();
                    self.metrics.received.fetch_add(1, Ordering::Relaxed);
                    if let Some(topic) = channels::parse(&self.prefix, msg.get_channel_name()) {
                        self.registry.do_send(Incoming {
                            topic,
                            payload: Bytes::copy_from_slice(msg.get_payload_bytes()),
                        });
                    }
                }
            }
        }
    }
}
