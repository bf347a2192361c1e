//! Routes, one file per feature.

pub mod admin;
pub mod auth;
pub mod bots;
pub mod clips;
pub mod effects;
pub mod emoji;
pub mod health;
pub mod hls;
pub mod live;
pub mod live_ws;
pub mod metrics;
pub mod oauth;
pub mod outgoing_webhooks;
pub mod production;
pub mod recordings;
pub mod room_commands;
pub mod rooms;
pub mod status;
pub mod streams;
pub mod two_factor;
pub mod uploads;
pub mod users;
pub mod web;
pub mod webhooks;
pub mod ws;
