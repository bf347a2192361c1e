//! Recordings: every broadcast's best MP3 variant is archived as it goes out; when the broadcast
//! ends a thread measures its loudness, normalises it to the configured target (EBU R128), trims
//! leading and trailing silence and publishes the result with a JSON sidecar. Files live under
//! `DATA_DIR/recordings/STREAM_ID/`: `REC.source.mp3` (the archive, removed once processed),
//! `REC.pending` (processing), `REC.mp3` + `REC.json` (published). `REC` is the broadcast's start
//! time in unix milliseconds.

pub mod normalise;

use serde::{Deserialize, Serialize};
use slog::{info, warn, Logger};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// `DATA_DIR/recordings`.
    pub root: PathBuf,
    pub target_lufs: f64,
    pub silence_dbfs: f64,
    /// Bitrate of the published MP3.
    pub kbps: u32,
}

/// What a published recording says about itself (the `.json` sidecar).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RecordingMeta {
    pub id: String,
    pub stream_id: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub duration_seconds: f64,
    pub source_loudness_lufs: f64,
    pub target_lufs: f64,
    pub gain_db: f64,
    pub trimmed_start_seconds: f64,
    pub trimmed_end_seconds: f64,
}

/// One entry of a stream's recordings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Recording {
    Ready(RecordingMeta),
    Processing { id: String },
    Failed { id: String, error: String },
}

impl Recording {
    pub fn id(&self) -> &str {
        match self {
            Recording::Ready(m) => &m.id,
            Recording::Processing { id } | Recording::Failed { id, .. } => id,
        }
    }
}

pub fn stream_dir(root: &Path, stream_id: i64) -> PathBuf {
    root.join(stream_id.to_string())
}

pub fn source_path(root: &Path, stream_id: i64, rec: i64) -> PathBuf {
    stream_dir(root, stream_id).join(format!("{rec}.source.mp3"))
}

pub fn audio_path(root: &Path, stream_id: i64, rec: i64) -> PathBuf {
    stream_dir(root, stream_id).join(format!("{rec}.mp3"))
}

fn sidecar(root: &Path, stream_id: i64, rec: i64, ext: &str) -> PathBuf {
    stream_dir(root, stream_id).join(format!("{rec}.{ext}"))
}

/// Marks a recording as being processed (called when its archive is opened).
pub fn mark_pending(root: &Path, stream_id: i64, rec: i64) -> std::io::Result<()> {
    std::fs::create_dir_all(stream_dir(root, stream_id))?;
    std::fs::write(sidecar(root, stream_id, rec, "pending"), b"")
}

/// Processes a finished archive on its own thread.
pub fn spawn_processing(
    config: RecordingConfig,
    stream_id: i64,
    rec: i64,
    ended_at: i64,
    log: Logger,
) {
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("recording".into())
        .spawn(move || process(&config, stream_id, rec, ended_at, &thread_log));
    if let Err(e) = spawned {
        warn!(log, "could not start the recording thread"; "error" => e.to_string());
    }
}

fn process(config: &RecordingConfig, stream_id: i64, rec: i64, ended_at: i64, log: &Logger) {
    let root = &config.root;
    let source = source_path(root, stream_id, rec);
    let result = normalise::analyse(&source, config.silence_dbfs).and_then(|analysis| {
        let gain_db = config.target_lufs - analysis.loudness;
        let tmp = sidecar(root, stream_id, rec, "mp3.tmp");
        let seconds = normalise::render(&source, &analysis, gain_db, config.kbps, &tmp)?;
        std::fs::rename(&tmp, audio_path(root, stream_id, rec))?;
        let rate = f64::from(analysis.rate.max(1));
        Ok(RecordingMeta {
            id: rec.to_string(),
            stream_id: stream_id.to_string(),
            started_at: rec,
            ended_at,
            duration_seconds: seconds,
            source_loudness_lufs: analysis.loudness,
            target_lufs: config.target_lufs,
            gain_db,
            trimmed_start_seconds: analysis.first as f64 / rate,
            trimmed_end_seconds: (analysis.frames - analysis.last) as f64 / rate,
        })
    });
    match result {
        Ok(meta) => {
            let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
            if let Err(e) = std::fs::write(sidecar(root, stream_id, rec, "json"), json) {
                warn!(log, "could not write the recording's metadata"; "error" => e.to_string());
            }
            let _archive_gone_is_fine = std::fs::remove_file(&source);
            info!(log, "recording published"; "stream" => stream_id, "recording" => rec,
                "seconds" => meta.duration_seconds, "loudness" => meta.source_loudness_lufs, "gain_db" => meta.gain_db);
        }
        Err(e) => {
            // The archive stays for a later look; the listing reports the failure.
            let _ = std::fs::write(sidecar(root, stream_id, rec, "failed"), e.to_string());
            warn!(log, "recording processing failed"; "stream" => stream_id, "recording" => rec, "error" => e.to_string());
        }
    }
    let _marker_gone_is_fine = std::fs::remove_file(sidecar(root, stream_id, rec, "pending"));
}

/// Restarts the processing of archives a previous run left pending (it stopped mid-way).
pub fn resume_pending(config: &RecordingConfig, log: &Logger) {
    let Ok(streams) = std::fs::read_dir(&config.root) else {
        return;
    };
    for stream in streams.flatten() {
        let Some(stream_id) = stream
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(stream.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name();
            let Some(rec) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".pending"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            if source_path(&config.root, stream_id, rec).exists() {
                info!(log, "resuming recording processing"; "stream" => stream_id, "recording" => rec);
                spawn_processing(config.clone(), stream_id, rec, rec, log.clone());
            } else {
                let _ = std::fs::remove_file(file.path());
            }
        }
    }
}

/// A stream's recordings, newest first.
pub fn list(root: &Path, stream_id: i64) -> Vec<Recording> {
    let mut ids: Vec<i64> = std::fs::read_dir(stream_dir(root, stream_id))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let (id, _) = name.split_once('.')?;
                    id.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    ids.into_iter()
        .map(|rec| {
            let id = rec.to_string();
            if sidecar(root, stream_id, rec, "pending").exists() {
                return Recording::Processing { id };
            }
            if let Ok(error) = std::fs::read_to_string(sidecar(root, stream_id, rec, "failed")) {
                return Recording::Failed { id, error };
            }
            std::fs::read(sidecar(root, stream_id, rec, "json"))
                .ok()
                .and_then(|j| serde_json::from_slice(&j).ok())
                .map(Recording::Ready)
                .unwrap_or(Recording::Processing { id })
        })
        .collect()
}
