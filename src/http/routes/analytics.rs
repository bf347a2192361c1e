//! `GET /api/v2/streams/{id}/analytics`: listeners over time per variant (progressive and HLS
//! sessions, still-open ones included), the peak, the average listen time and chat messages per
//! step of the stream's linked room, as JSON or CSV. Owner or `streams.manage` only; to anyone
//! else the stream does not exist (404).

use super::streams::load;
use crate::analytics::minutes::{add_session, minute_of, Counts, Minutes};
use crate::analytics::report::{self, AnalyticsReport, Range, STEP_UNIT_MS};
use crate::db::analytics as queries;
use crate::db::DbError;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::guard::holds;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use veza_actors::ids::{now_ms, StreamId};
use veza_actors::permission::Permission;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(show),
    components(schemas(AnalyticsReport, report::AnalyticsPoint, report::AnalyticsPeak))
)]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/analytics").route(web::get().to(show)));
}

/// Most points one report may have (raise `step` for a longer range).
pub const MAX_POINTS: i64 = 2000;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct AnalyticsQuery {
    /// Start of the range: milliseconds since the epoch or RFC 3339; default 24 h before `to`.
    /// Rounded down to a minute.
    from: Option<String>,
    /// End of the range (excluded): milliseconds or RFC 3339; default the end of the current
    /// minute.
    to: Option<String>,
    /// Seconds per point: a whole number of minutes, 60 to 86400; default 60.
    step: Option<String>,
    /// `csv` for CSV (as `Accept: text/csv` does).
    format: Option<String>,
}

/// A time as milliseconds since the epoch or RFC 3339.
fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::invalid(format!(
                "`{name}` must be milliseconds since the epoch or an RFC 3339 time"
            ))
        })
}

fn range_of(query: &AnalyticsQuery, now: i64) -> Result<Range, ApiError> {
    let step_s = match query.step.as_deref() {
        None => 60,
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("`step` must be a number of seconds"))?,
    };
    if !(60..=86_400).contains(&step_s) || (step_s * 1000) % STEP_UNIT_MS != 0 {
        return Err(ApiError::invalid(
            "`step` must be a whole number of minutes, 60 to 86400 seconds",
        ));
    }
    let to = match query.to.as_deref() {
        Some(t) => parse_time("to", t)?,
        // The end of the current minute: a day by minute is then exactly 1440 points.
        None => minute_of(now) + STEP_UNIT_MS,
    };
    let from = match query.from.as_deref() {
        Some(f) => parse_time("from", f)?,
        None => to - DAY_MS,
    };
    let range = Range {
        from: minute_of(from),
        to,
        step_ms: step_s * 1000,
    };
    if range.from >= range.to {
        return Err(ApiError::invalid("`from` must be before `to`"));
    }
    if range.points() > MAX_POINTS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_POINTS} points: raise `step` or shorten the range"
        )));
    }
    Ok(range)
}

fn wants_csv(req: &HttpRequest, query: &AnalyticsQuery) -> bool {
    if let Some(format) = query.format.as_deref() {
        return format.eq_ignore_ascii_case("csv");
    }
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

/// The stream's listeners and chat over `[from, to)` in points of `step` seconds. Each point has,
/// per variant and in total, the most listener sessions (progressive connections on either port,
/// HLS players by session token; still-open sessions count up to now) overlapping one minute of
/// it, and the chat messages sent in the linked room during it. `sessions` and
/// `average_listen_seconds` are over sessions started in the range. JSON, or CSV (`t`, one
/// column per variant, `total`, `chat_messages`) with `Accept: text/csv` or `format=csv`.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/analytics",
    tag = "analytics",
    params(("id" = StreamId, Path, description = "The stream's id"), AnalyticsQuery),
    responses(
        (status = 200, description = "The report (or its points as CSV)",
            content((AnalyticsReport = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such stream, or not the caller's", body = crate::http::error::ErrorBody),
        (status = 422, description = "A bad range or step", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<StreamId>,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    if who.user_id != row.owner_id && !holds(&state, &who, Permission::StreamsManage) {
        return Err(ApiError::not_found("no such stream"));
    }
    let now = now_ms() as i64;
    let range = range_of(&query, now)?;
    let pool = state.pool.clone();
    let (stream, room) = (row.id, row.room_id);
    let report = web::block(move || -> Result<AnalyticsReport, DbError> {
        let conn = &mut *pool.get()?;
        let mut minutes = Minutes::new();
        for m in queries::minutes_between(conn, stream, range.from, range.to)? {
            minutes
                .entry((m.minute, m.variant))
                .or_default()
                .add(Counts {
                    listeners: m.listeners,
                    sessions_started: m.sessions_started,
                    listen_ms: m.listen_ms,
                });
        }
        for s in queries::sessions_overlapping(conn, stream, range.from, range.to)? {
            let end = s.ended_at.unwrap_or(now);
            add_session(
                &mut minutes,
                &s.variant,
                s.started_at,
                end,
                range.from,
                range.to,
            );
        }
        let chat = match room {
            Some(room) => queries::message_times(conn, room, range.from, range.to)?,
            None => Vec::new(),
        };
        Ok(report::build(stream, range, &minutes, &chat))
    })
    .await??;
    if wants_csv(&req, &query) {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(report::to_csv(&report)));
    }
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>, step: Option<&str>) -> AnalyticsQuery {
        AnalyticsQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            step: step.map(str::to_owned),
            format: None,
        }
    }

    #[test]
    fn ranges_default_to_a_day_by_minute_and_refuse_bad_steps() {
        let now = 1_800_000_000_000;
        let r = range_of(&query(None, None, None), now).unwrap();
        assert_eq!((r.to - r.from, r.step_ms), (DAY_MS, 60_000));
        let r = range_of(
            &query(
                Some("2026-12-07T10:00:30Z"),
                Some("2026-12-07T11:00:00Z"),
                Some("600"),
            ),
            now,
        )
        .unwrap();
        assert_eq!(r.from % 60_000, 0);
        assert_eq!(r.points(), 6);
        for bad in ["59", "90", "86401", "x", "-60"] {
            assert!(
                range_of(&query(None, None, Some(bad)), now).is_err(),
                "{bad}"
            );
        }
        assert!(range_of(&query(Some("yesterday"), None, None), now).is_err());
        assert!(
            range_of(&query(Some("0"), None, Some("60")), now).is_err(),
            "too many points"
        );
        assert!(range_of(&query(Some("200000"), Some("100000"), None), now).is_err());
    }
}
