//! Owns: no rule; the calendar-day reading of RULES.md's preamble that R2, R10 and R16 count with.
//!
//! Calendar days compare UTC dates, not 24-hour periods (RULES.md preamble).

use chrono::{DateTime, Utc};

/// `date(b) - date(a)` in whole UTC calendar days; negative when `b` is earlier.
pub fn calendar_days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b.date_naive() - a.date_naive()).num_days()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn counts_dates_not_hours() {
        let late = Utc.with_ymd_and_hms(2021, 1, 1, 23, 59, 0).unwrap();
        let early = Utc.with_ymd_and_hms(2021, 1, 2, 0, 1, 0).unwrap();
        assert_eq!(calendar_days_between(late, early), 1);
        assert_eq!(calendar_days_between(early, late), -1);
        let same_day = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(calendar_days_between(same_day, late), 0);
    }
}
