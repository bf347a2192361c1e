//! The outgoing webhooks' settings: where hooks may point, how calls are made and retried.

use super::{choose, parse_range, ConfigError, Sourced};
use crate::webhooks::address::AddressPolicy;
use crate::webhooks::retry::RetryPolicy;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct OutgoingWebhooks {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// Calls one node makes at once (0: this node makes none; others do).
    pub workers: usize,
    pub timeout_ms: u64,
    pub poll_ms: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub circuit_failures: u32,
    pub circuit_open_ms: u64,
    /// Live outgoing hooks one room may have.
    pub max_per_room: usize,
    /// How long finished deliveries stay in the delivery log.
    pub log_retention_hours: u64,
}

impl OutgoingWebhooks {
    pub fn addresses(&self) -> AddressPolicy {
        AddressPolicy {
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
        }
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms),
            max_attempts: self.max_attempts,
            circuit_failures: self.circuit_failures,
            circuit_open: Duration::from_millis(self.circuit_open_ms),
        }
    }
}

const BOOL: &[(&str, bool)] = &[("true", true), ("false", false), ("1", true), ("0", false)];

pub(super) fn outgoing(
    values: &BTreeMap<&'static str, Sourced>,
) -> Result<OutgoingWebhooks, ConfigError> {
    let get = |key: &'static str| values.get(key);
    let config = OutgoingWebhooks {
        allow_loopback: choose(
            get("webhook_allow_loopback"),
            "webhook_allow_loopback",
            BOOL,
        )?,
        allow_private: choose(get("webhook_allow_private"), "webhook_allow_private", BOOL)?,
        workers: parse_range(get("webhook_workers"), "webhook_workers", 0, 256)?,
        timeout_ms: parse_range(
            get("webhook_timeout_ms"),
            "webhook_timeout_ms",
            100,
            120_000,
        )?,
        poll_ms: parse_range(get("webhook_poll_ms"), "webhook_poll_ms", 10, 60_000)?,
        max_attempts: parse_range(get("webhook_max_attempts"), "webhook_max_attempts", 1, 50)?,
        retry_base_ms: parse_range(
            get("webhook_retry_base_ms"),
            "webhook_retry_base_ms",
            10,
            3_600_000,
        )?,
        retry_max_ms: parse_range(
            get("webhook_retry_max_ms"),
            "webhook_retry_max_ms",
            10,
            86_400_000,
        )?,
        circuit_failures: parse_range(
            get("webhook_circuit_failures"),
            "webhook_circuit_failures",
            1,
            1_000,
        )?,
        circuit_open_ms: parse_range(
            get("webhook_circuit_open_ms"),
            "webhook_circuit_open_ms",
            10,
            86_400_000,
        )?,
        max_per_room: parse_range(
            get("max_outgoing_webhooks_per_room"),
            "max_outgoing_webhooks_per_room",
            0,
            1_000,
        )?,
        log_retention_hours: parse_range(
            get("webhook_log_retention_hours"),
            "webhook_log_retention_hours",
            1,
            24 * 366,
        )?,
    };
    if config.retry_max_ms < config.retry_base_ms {
        return Err(super::invalid(
            get("webhook_retry_max_ms"),
            "webhook_retry_max_ms",
            format!(
                "{} is shorter than webhook_retry_base_ms ({})",
                config.retry_max_ms, config.retry_base_ms
            ),
        ));
    }
    Ok(config)
}
