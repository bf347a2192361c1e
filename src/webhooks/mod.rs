//! Outgoing webhooks: a room's events POSTed, signed, to an owner's HTTP service.
//!
//! The queue is in the store ([`crate::db::webhook_outbox`] writes a delivery row in the commit of
//! each event; [`crate::db::webhook_deliveries`] is the queue and the log), so a restart loses
//! nothing and any node may deliver. [`dispatcher`] makes the calls on its own threads;
//! [`address`] keeps them off internal addresses; [`signature`] signs them; [`retry`] decides
//! what a failure means; [`payload`] is the body; [`rekey`] seals the secrets again when the
//! server key changes.

pub mod address;
pub mod dispatcher;
pub mod payload;
pub mod rekey;
pub mod retry;
pub mod signature;

pub use dispatcher::Dispatcher;
