//! A stream's schedule: `POST /api/v2/streams/{id}/schedule` (owner) adds a weekly or one-off
//! slot in an IANA time zone, refused with 409 `schedule_conflict` when it overlaps another slot
//! of the stream within a year; `DELETE /api/v2/streams/{id}/schedule/{slot}`; `GET
//! /api/v2/streams/{id}/schedule?from&to` lists the slots and their occurrences in a window
//! (default the next 7 days, at most 31).

use super::streams::{load, owner_only};
use crate::db::schedules::{self as store, SlotRow, MAX_SLOTS_PER_STREAM};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::schedules::conflict::first_clash;
use crate::schedules::slot::{self, Occurrence, Recurrence, SlotSpec};
use crate::schedules::ticker::spec_of;
use crate::schedules::ScheduleError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::{now_ms, StreamId};

const DAY_MS: i64 = 86_400_000;
/// The default window of `GET .../schedule` and the largest one.
const DEFAULT_WINDOW_MS: i64 = 7 * DAY_MS;
const MAX_WINDOW_MS: i64 = 31 * DAY_MS;
/// A one-off slot may be planned this far ahead.
const MAX_AHEAD_MS: i64 = 5 * 366 * DAY_MS;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, remove))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams/{id}/schedule")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/streams/{id}/schedule/{slot}").route(web::delete().to(remove)));
}

/// A new slot: `weekly` (`weekday` + `time`) or `once` (`date` + `time`), local to `time_zone`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSlot {
    /// `weekly` or `once`.
    kind: Option<String>,
    /// Weekly slots: `monday`..`sunday`.
    weekday: Option<String>,
    /// One-off slots: `YYYY-MM-DD`.
    date: Option<String>,
    /// Local start, `HH:MM` or `HH:MM:SS` (24 h).
    time: Option<String>,
    /// An IANA zone, e.g. `Europe/Paris`: the slot keeps its local time across DST changes.
    time_zone: Option<String>,
    /// 1-1440.
    duration_minutes: Option<i64>,
}

/// A slot of a stream's schedule.
#[derive(Serialize, ToSchema)]
pub struct SlotView {
    /// The slot's id (a decimal string).
    id: String,
    stream_id: StreamId,
    /// `weekly` or `once`.
    kind: String,
    /// Weekly slots: `monday`..`sunday`.
    #[schema(required = true)]
    weekday: Option<String>,
    /// One-off slots: `YYYY-MM-DD`.
    #[schema(required = true)]
    date: Option<String>,
    /// `HH:MM` (or `HH:MM:SS`), local.
    time: String,
    time_zone: String,
    duration_minutes: i64,
    /// The next occurrence's start (ms since the epoch), null when none is ahead.
    #[schema(required = true)]
    next_start: Option<i64>,
    created_at: i64,
}

/// One occurrence of a slot.
#[derive(Serialize, ToSchema)]
pub struct OccurrenceView {
    /// The slot's id.
    slot: String,
    /// ms since the epoch (UTC).
    starts_at: i64,
    ends_at: i64,
    /// The local start with its offset (RFC 3339), e.g. `2027-04-02T20:00:00+02:00`.
    local_start: String,
    time_zone: String,
}

/// The slots and their occurrences in `[from, to)`.
#[derive(Serialize, ToSchema)]
pub struct Schedule {
    slots: Vec<SlotView>,
    /// Occurrences overlapping the window, by start.
    occurrences: Vec<OccurrenceView>,
    from: i64,
    to: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// ms since the epoch (default: now).
    #[param(nullable = false)]
    from: Option<i64>,
    /// ms since the epoch (default: `from` + 7 days; at most 31 days after `from`).
    #[param(nullable = false)]
    to: Option<i64>,
}

fn weekday_name(day: chrono::Weekday) -> &'static str {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    NAMES[day.num_days_from_monday() as usize]
}

fn view(row: &SlotRow, now: i64) -> SlotView {
    let spec = spec_of(row);
    SlotView {
        id: row.id.to_string(),
        stream_id: row.stream_id,
        kind: row.kind.clone(),
        weekday: row
            .weekday
            .and_then(|d| u8::try_from(d).ok())
            .and_then(|d| chrono::Weekday::try_from(d).ok())
            .map(|d| weekday_name(d).to_owned()),
        date: row.local_date.clone(),
        time: row.local_time.clone(),
        time_zone: row.time_zone.clone(),
        duration_minutes: row.duration_min,
        next_start: spec.and_then(|s| s.next_after(now)).map(|o| o.start_ms),
        created_at: row.created_at,
    }
}

fn occurrence_view(slot: i64, zone: &str, o: &Occurrence) -> OccurrenceView {
    OccurrenceView {
        slot: slot.to_string(),
        starts_at: o.start_ms,
        ends_at: o.end_ms,
        local_start: o.local.to_rfc3339_opts(SecondsFormat::Secs, false),
        time_zone: zone.to_owned(),
    }
}

/// The slot a request describes, as stored (without its id and stream) and as a spec.
fn parse_slot(body: &CreateSlot, now: i64) -> Result<(SlotSpec, SlotRow), ScheduleError> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| ScheduleError::invalid(format!("{name} is required")))
    };
    let zone_name = need(&body.time_zone, "time_zone")?;
    let zone = slot::parse_zone(&zone_name)?;
    let time = slot::parse_time(&need(&body.time, "time")?)?;
    let duration = slot::check_duration(
        body.duration_minutes
            .ok_or_else(|| ScheduleError::invalid("duration_minutes is required"))?,
    )?;
    let (recurrence, weekday, date) = match need(&body.kind, "kind")?.as_str() {
        "weekly" => {
            if body.date.is_some() {
                return Err(ScheduleError::invalid("a weekly slot has no date"));
            }
            let day = slot::parse_weekday(&need(&body.weekday, "weekday")?)?;
            let recurrence = Recurrence::Weekly { weekday: day, time };
            (
                recurrence,
                Some(i64::from(day.num_days_from_monday())),
                None,
            )
        }
        "once" => {
            if body.weekday.is_some() {
                return Err(ScheduleError::invalid("a one-off slot has no weekday"));
            }
            let day = slot::parse_date(&need(&body.date, "date")?)?;
            let recurrence = Recurrence::Once {
                at: day.and_time(time),
            };
            (recurrence, None, Some(day.format("%Y-%m-%d").to_string()))
        }
        _ => return Err(ScheduleError::invalid("kind must be weekly or once")),
    };
    let spec = SlotSpec {
        recurrence,
        zone,
        duration_min: duration,
    };
    let once_at = match recurrence {
        Recurrence::Once { at } => {
            let start = slot::resolve(zone, at)
                .ok_or_else(|| ScheduleError::invalid("that local time does not exist"))?
                .timestamp_millis();
            if start <= now || start > now + MAX_AHEAD_MS {
                return Err(ScheduleError::invalid(
                    "a one-off slot must start in the future, within 5 years",
                ));
            }
            Some(start)
        }
        Recurrence::Weekly { .. } => None,
    };
    let row = SlotRow {
        id: 0,
        stream_id: StreamId(0),
        kind: body.kind.clone().unwrap_or_default(),
        weekday,
        local_date: date,
        local_time: slot::format_time(time),
        time_zone: zone.name().to_owned(),
        duration_min: duration,
        once_at,
        created_at: now,
    };
    Ok((spec, row))
}

/// Holds the stream's row until the transaction ends (PostgreSQL), so two slots added at once
/// are checked one after the other; SQLite's write transaction is already exclusive.
fn lock_stream(conn: &mut DbConnection, stream: StreamId) -> Result<(), ScheduleError> {
    use crate::db::schema::streams;
    use diesel::prelude::*;
    if let DbConnection::Postgres(pg) = conn {
        streams::table
            .find(stream)
            .select(streams::id)
            .for_update()
            .first::<i64>(pg)?;
    }
    Ok(())
}

/// Inserts `row` unless it overlaps one of the stream's slots.
fn insert_checked(
    conn: &mut DbConnection,
    spec: &SlotSpec,
    row: &SlotRow,
    now: i64,
) -> Result<(), ScheduleError> {
    write_transaction(conn, |conn| {
        lock_stream(conn, row.stream_id)?;
        let existing = store::of_stream(conn, row.stream_id)?;
        if existing.len() as i64 >= MAX_SLOTS_PER_STREAM {
            return Err(ScheduleError::invalid(format!(
                "a stream has at most {MAX_SLOTS_PER_STREAM} slots"
            )));
        }
        for other in &existing {
            let Some(other_spec) = spec_of(other) else {
                continue;
            };
            if let Some(clash) = first_clash(spec, &other_spec, now) {
                return Err(ScheduleError::Conflict {
                    slot: other.id,
                    at: format!(
                        "{} {}",
                        clash.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                        other.time_zone
                    ),
                });
            }
        }
        store::insert(conn, row)?;
        Ok(())
    })
}

/// Add a slot to the stream's schedule (owner or `streams.manage`).
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/schedule",
    tag = "schedules",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = CreateSlot,
    responses(
        (status = 201, description = "The slot", body = SlotView),
        (status = 409, description = "It overlaps another slot (`schedule_conflict`, naming it)", body = crate::http::error::ErrorBody),
        (status = 422, description = "A field is invalid (zone, time, date, duration)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<CreateSlot>,
) -> Result<HttpResponse, ApiError> {
    let stream = load(&state, path.into_inner()).await?;
    owner_only(&state, &who, &stream)?;
    let now = now_ms() as i64;
    let (spec, mut row) = parse_slot(&body, now)?;
    row.id = state.ids.next_id();
    row.stream_id = stream.id;
    let pool = state.pool.clone();
    let row = web::block(move || {
        let conn = &mut *pool.get()?;
        insert_checked(conn, &spec, &row, now)?;
        Ok::<_, ScheduleError>(row)
    })
    .await??;
    Ok(HttpResponse::Created().json(view(&row, now)))
}

/// Remove a slot (owner or `streams.manage`).
#[utoipa::path(
    delete,
    path = "/api/v2/streams/{id}/schedule/{slot}",
    tag = "schedules",
    params(
        ("id" = StreamId, Path, description = "The stream's id"),
        ("slot" = String, Path, description = "The slot's id")
    ),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn remove(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(StreamId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (stream, slot) = path.into_inner();
    let slot: i64 = slot
        .parse()
        .map_err(|_| ApiError::not_found("no such slot"))?;
    let stream = load(&state, stream).await?;
    owner_only(&state, &who, &stream)?;
    let pool = state.pool.clone();
    let removed = web::block(move || store::delete(&mut *pool.get()?, stream.id, slot)).await??;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no such slot"))
    }
}

/// The stream's slots and their occurrences in a window (default the next 7 days, at most 31).
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/schedule",
    tag = "schedules",
    params(("id" = StreamId, Path, description = "The stream's id"), Window),
    responses((status = 200, description = "The schedule", body = Schedule))
)]
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    window: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    let now = now_ms() as i64;
    let from = window.from.unwrap_or(now);
    let to = window.to.unwrap_or(from.saturating_add(DEFAULT_WINDOW_MS));
    if from < 0 || from >= to || to - from > MAX_WINDOW_MS {
        return Err(ApiError::invalid(
            "from must be before to, at most 31 days apart",
        ));
    }
    let stream = load(&state, path.into_inner()).await?;
    let pool = state.pool.clone();
    let rows = web::block(move || store::of_stream(&mut *pool.get()?, stream.id)).await??;
    let mut occurrences: Vec<OccurrenceView> = rows
        .iter()
        .filter_map(|row| Some((row, spec_of(row)?)))
        .flat_map(|(row, spec)| {
            spec.overlapping(from, to)
                .into_iter()
                .map(|o| occurrence_view(row.id, &row.time_zone, &o))
                .collect::<Vec<_>>()
        })
        .collect();
    occurrences.sort_by_key(|o| o.starts_at);
    Ok(HttpResponse::Ok().json(Schedule {
        slots: rows.iter().map(|r| view(r, now)).collect(),
        occurrences,
        from,
        to,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> CreateSlot {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn slots_are_parsed_and_checked() {
        let now = 1_800_000_000_000;
        let ok = body(
            serde_json::json!({"kind":"weekly","weekday":"friday","time":"20:00",
            "time_zone":"Europe/Paris","duration_minutes":120}),
        );
        let (_, row) = parse_slot(&ok, now).unwrap();
        assert_eq!((row.weekday, row.local_time.as_str()), (Some(4), "20:00"));
        for bad in [
            serde_json::json!({"kind":"weekly","weekday":"friday","time":"20:00","time_zone":"Nowhere/Land","duration_minutes":60}),
            serde_json::json!({"kind":"weekly","weekday":"friday","time":"25:00","time_zone":"UTC","duration_minutes":60}),
            serde_json::json!({"kind":"weekly","weekday":"friday","time":"20:00","time_zone":"UTC","duration_minutes":0}),
            serde_json::json!({"kind":"once","date":"2001-01-01","time":"20:00","time_zone":"UTC","duration_minutes":60}),
            serde_json::json!({"kind":"daily","time":"20:00","time_zone":"UTC","duration_minutes":60}),
        ] {
            assert!(
                matches!(
                    parse_slot(&body(bad.clone()), now),
                    Err(ScheduleError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
