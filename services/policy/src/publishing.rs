//! Owns: no rule; publishes R30's versions (`values` owns R30).
//!
//! R30 (issue 24): publishing a policy version. What a version may hold (bounds, ISO countries),
//! when it may take effect (after the newest version, far enough ahead that every replica's
//! cache knows it first), and what it changes against the version before it.

use chrono::{DateTime, Duration, Utc};

use crate::tracking_number::validate_country_code;
use crate::values::{Policy, PolicyValues};

/// Bounds of each day count. A window of 0 days to fulfil, or a year to re-release, is a typo,
/// not a policy; the combine window may be 0 (same calendar day only).
pub const FULFILLMENT_WINDOW_DAYS: (i64, i64) = (1, 60);
pub const COMBINE_WINDOW_DAYS: (i64, i64) = (0, 60);
pub const RERELEASE_WINDOW_DAYS: (i64, i64) = (1, 180);
pub const RERELEASE_DEADLINE_DAYS: (i64, i64) = (1, 60);
pub const MAX_COUNTRIES: usize = 249;

/// How long before it takes effect a version must be published. The servers cache the versions
/// for 60 s (`PolicyStore`); five minutes leaves every replica four more to reload, so a
/// version takes effect at its instant everywhere, not at each cache's next refresh.
pub fn minimum_lead() -> Duration {
    Duration::minutes(5)
}

/// One field that fails validation, named as in `PolicyValues`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub description: String,
}

/// The candidate's values normalised (countries upper-cased, sorted, without duplicates), or
/// every problem found.
pub fn validate_values(values: &PolicyValues) -> Result<PolicyValues, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bound = |field: &'static str, value: i64, (lo, hi): (i64, i64)| {
        if !(lo..=hi).contains(&value) {
            problems.push(Problem {
                field,
                description: format!("must be between {lo} and {hi} days, not {value}"),
            });
        }
    };
    bound(
        "fulfillment_window_days",
        values.fulfillment_window_days,
        FULFILLMENT_WINDOW_DAYS,
    );
    bound(
        "combine_window_days",
        values.combine_window_days,
        COMBINE_WINDOW_DAYS,
    );
    bound(
        "rerelease_window_days",
        values.rerelease_window_days,
        RERELEASE_WINDOW_DAYS,
    );
    bound(
        "rerelease_deadline_days",
        values.rerelease_deadline_days,
        RERELEASE_DEADLINE_DAYS,
    );
    let mut countries = Vec::with_capacity(values.rerelease_countries.len());
    for raw in &values.rerelease_countries {
        match validate_country_code(raw) {
            Ok(code) => countries.push(code),
            Err(e) => problems.push(Problem {
                field: "rerelease_countries",
                description: e.to_string(),
            }),
        }
    }
    if values.rerelease_countries.len() > MAX_COUNTRIES {
        problems.push(Problem {
            field: "rerelease_countries",
            description: format!("at most {MAX_COUNTRIES} countries"),
        });
    }
    countries.sort();
    countries.dedup();
    if problems.is_empty() {
        Ok(PolicyValues {
            rerelease_countries: countries,
            ..values.clone()
        })
    } else {
        Err(problems)
    }
}

/// R30: a new version must take effect after every existing one (so none is ever pre-empted or
/// rewritten) and at least [`minimum_lead`] after `now`.
pub fn validate_effective_from(
    effective_from: DateTime<Utc>,
    newest: Option<&Policy>,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let earliest = now + minimum_lead();
    if effective_from < earliest {
        return Err(Problem {
            field: "effective_from",
            description: format!(
                "must be at least {} minutes in the future (not before {})",
                minimum_lead().num_minutes(),
                earliest.to_rfc3339()
            ),
        });
    }
    if let Some(newest) = newest
        && effective_from <= newest.effective_from
    {
        return Err(Problem {
            field: "effective_from",
            description: format!(
                "must be after the newest version's ({} from {})",
                newest.version,
                newest.effective_from.to_rfc3339()
            ),
        });
    }
    Ok(())
}

/// One value that differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

/// What `next` changes against `previous` (every value, for a first version).
pub fn diff(previous: Option<&PolicyValues>, next: &PolicyValues) -> Vec<Change> {
    let fields = |v: &PolicyValues| -> [(&'static str, String); 7] {
        [
            (
                "fulfillment_window_days",
                v.fulfillment_window_days.to_string(),
            ),
            ("combine_window_days", v.combine_window_days.to_string()),
            ("rerelease_window_days", v.rerelease_window_days.to_string()),
            (
                "rerelease_deadline_days",
                v.rerelease_deadline_days.to_string(),
            ),
            (
                "confirmed_removal_from",
                v.confirmed_removal_from.to_rfc3339(),
            ),
            ("rerelease_from", v.rerelease_from.to_rfc3339()),
            ("rerelease_countries", v.rerelease_countries.join(",")),
        ]
    };
    let next_fields = fields(next);
    match previous {
        None => next_fields
            .into_iter()
            .map(|(field, to)| Change {
                field,
                from: String::new(),
                to,
            })
            .collect(),
        Some(previous) => fields(previous)
            .into_iter()
            .zip(next_fields)
            .filter(|((_, from), (_, to))| from != to)
            .map(|((field, from), (_, to))| Change { field, from, to })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn r30_bounds_and_iso_countries_are_checked_and_countries_normalised() {
        let mut v = PolicyValues {
            rerelease_countries: vec!["hk".into(), " CN".into(), "CN".into()],
            ..PolicyValues::default()
        };
        let ok = validate_values(&v).unwrap();
        assert_eq!(ok.rerelease_countries, ["CN", "HK"]);

        v.fulfillment_window_days = 0;
        v.rerelease_window_days = 181;
        v.combine_window_days = -1;
        v.rerelease_countries = vec!["XX".into(), "CHN".into()];
        let problems = validate_values(&v).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "fulfillment_window_days",
                "combine_window_days",
                "rerelease_window_days",
                "rerelease_countries",
                "rerelease_countries"
            ]
        );
        // The edges of each bound are allowed.
        v = PolicyValues {
            fulfillment_window_days: 60,
            combine_window_days: 0,
            rerelease_window_days: 180,
            rerelease_deadline_days: 1,
            ..PolicyValues::default()
        };
        assert!(validate_values(&v).is_ok());
    }

    #[test]
    fn r30_a_version_takes_effect_after_the_newest_and_after_the_cache_lead() {
        let now = at(2026, 12, 3);
        let newest = Policy {
            version: 2,
            effective_from: at(2027, 1, 1),
            values: PolicyValues::default(),
        };
        let lead = minimum_lead();
        assert_eq!(
            validate_effective_from(now + lead - Duration::seconds(1), None, now)
                .unwrap_err()
                .field,
            "effective_from"
        );
        assert!(validate_effective_from(now + lead, None, now).is_ok());
        // Not at, nor before, the newest version's instant.
        assert!(validate_effective_from(at(2027, 1, 1), Some(&newest), now).is_err());
        assert!(validate_effective_from(at(2026, 12, 31), Some(&newest), now).is_err());
        assert!(
            validate_effective_from(at(2027, 1, 1) + Duration::seconds(1), Some(&newest), now)
                .is_ok()
        );
        // The lead exceeds the servers' 60 s policy cache.
        assert!(lead > Duration::seconds(60));
    }

    #[test]
    fn r30_the_diff_names_each_changed_value_only() {
        let before = PolicyValues::default();
        let after = PolicyValues {
            rerelease_window_days: 30,
            rerelease_countries: vec!["CN".into(), "HK".into()],
            ..before.clone()
        };
        assert_eq!(
            diff(Some(&before), &after),
            [
                Change {
                    field: "rerelease_window_days",
                    from: "25".into(),
                    to: "30".into()
                },
                Change {
                    field: "rerelease_countries",
                    from: "CN".into(),
                    to: "CN,HK".into()
                }
            ]
        );
        assert!(diff(Some(&before), &before).is_empty());
        assert_eq!(diff(None, &before).len(), 7);
    }
}
