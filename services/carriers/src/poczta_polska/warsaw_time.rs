//! Polish wall-clock time to UTC, with the EU summer-time rule: no time-zone database needed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::answer::malformed;
use crate::error::TrackError;

pub(super) fn parse_local_time(value: &str) -> Result<NaiveDateTime, TrackError> {
    ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .ok_or_else(|| malformed(format!("bad czas {value:?}")))
}

/// The last Sunday of a month.
pub(super) fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let last_day = NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()?;
    let back = last_day.weekday().num_days_from_sunday();
    Some(last_day - Duration::days(i64::from(back)))
}

/// EU summer time (Directive 2000/84/EC): from 01:00 UTC on the last Sunday of March to 01:00
/// UTC on the last Sunday of October.
pub fn is_eu_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let bound = |month| {
        last_sunday(year, month)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    match (bound(3), bound(10)) {
        (Some(start), Some(end)) => at >= start && at < end,
        _ => false,
    }
}

/// Polish wall-clock time (CET, UTC+1; CEST, UTC+2 in summer) to UTC.
///
/// In the October hour that happens twice the first (summer) one is taken; a time in the
/// skipped March hour is read as winter time, one hour later in UTC than it would be.
pub fn warsaw_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let summer = Utc.from_utc_datetime(&(local - Duration::hours(2)));
    if is_eu_summer_time(summer) {
        summer
    } else {
        Utc.from_utc_datetime(&(local - Duration::hours(1)))
    }
}
