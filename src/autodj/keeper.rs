//! Keeping every enabled AutoDJ on air: [`ensure_on_air`] puts a stream's programme on air on this
//! node unless it already plays somewhere (here, or on the node holding the mount's lease) or a
//! live source has the mount; the keeper task runs it on every node every `autodj_keeper_ms`, so
//! a programme comes back after its node died (once the lease lapses) or restarted, or after a
//! live-only broadcast on the mount ended.

use super::library::playlist_loader;
use super::picker::{PlayMode, PlaylistPicker};
use super::programmes::{ProgrammeStream, Settings, StartProgramme};
use crate::db::autodj::{self, AutoDjRow};
use crate::db::streams::StreamRow;
use crate::state::AppState;
use slog::{debug, warn};
use std::time::Duration;
use veza_actors::ids::PlaylistId;
use veza_actors::registry::FindStream;

/// The programme's settings from its row.
pub fn settings_of(row: &AutoDjRow) -> Settings {
    Settings {
        mode: PlayMode::parse(&row.mode).unwrap_or(PlayMode::Loop),
        crossfade: Duration::from_millis(row.crossfade_ms.max(0) as u64),
        handover: Duration::from_millis(row.handover_ms.max(0) as u64),
    }
}

/// The picker for a row's playlist.
pub fn picker_of(state: &AppState, row: &AutoDjRow) -> Box<PlaylistPicker> {
    Box::new(PlaylistPicker::new(
        playlist_loader(
            state.pool.clone(),
            state.tracks.store.clone(),
            PlaylistId(row.playlist_id),
            state.config.autodj.target_lufs,
            state.log.clone(),
        ),
        settings_of(row).mode,
    ))
}

/// Puts the programme on air here if nothing plays the mount anywhere; true if it is on air here
/// (already, or now).
pub async fn ensure_on_air(state: &AppState, row: &AutoDjRow, stream: &StreamRow) -> bool {
    let mount = &stream.mount;
    if state
        .programmes
        .send(super::programmes::ProgrammeStatus(mount.clone()))
        .await
        .ok()
        .flatten()
        .is_some()
    {
        return true;
    }
    // A plain live source has the mount here: the AutoDJ waits for it to leave.
    if state
        .registry
        .send(FindStream(mount.clone()))
        .await
        .ok()
        .flatten()
        .is_some()
    {
        return false;
    }
    let lease = match &state.leases {
        Some(leases) => match leases.acquire(mount).await {
            Ok(guard) => Some(guard),
            // Another node plays it (its programme or a live source).
            Err(_) => return false,
        },
        None => None,
    };
    let started = state
        .programmes
        .send(StartProgramme {
            stream: ProgrammeStream {
                id: stream.id,
                room: stream.room_id,
                mount: mount.clone(),
                title: stream.title.clone(),
                effects: serde_json::from_str(&stream.effects).unwrap_or_default(),
            },
            settings: settings_of(row),
            picker: picker_of(state, row),
            lease,
        })
        .await;
    matches!(started, Ok(Ok(())))
}

/// Every `autodj_keeper_ms`: every enabled AutoDJ that nothing plays goes on air here.
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval(state.config.autodj.keeper_every());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let pool = state.pool.clone();
        let rows = actix_web::web::block(move || autodj::enabled(&mut *pool.get()?)).await;
        let rows = match rows {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                warn!(state.log, "AutoDJ keeper could not read the store"; "error" => e.to_string());
                continue;
            }
            Err(_) => continue,
        };
        for (row, stream) in rows {
            if ensure_on_air(&state, &row, &stream).await {
                debug!(state.log, "AutoDJ on air"; "mount" => &stream.mount);
            }
        }
    }
}
