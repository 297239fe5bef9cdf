//! Owns: R30.
//!
//! R30: policy values are data, versioned with an effective date.

use chrono::{DateTime, TimeZone, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyValues {
    /// R2: days to mark an order shipped after its (latest) release.
    pub fulfillment_window_days: i64,
    /// R10: most calendar days between releases of orders sharing a tracking number.
    pub combine_window_days: i64,
    /// R16: a cancellation this many calendar days or more after the initial release refunds.
    pub rerelease_window_days: i64,
    /// R16: days a re-released order has to ship again.
    pub rerelease_deadline_days: i64,
    /// R15: orders initially released on or after this lose the confirmed date on cancellation.
    pub confirmed_removal_from: DateTime<Utc>,
    /// R16: cancellations from this time on may re-release.
    pub rerelease_from: DateTime<Utc>,
    /// R16: merchant countries eligible for re-release.
    pub rerelease_countries: Vec<String>,
}

impl Default for PolicyValues {
    fn default() -> Self {
        Self {
            fulfillment_window_days: 5,
            combine_window_days: 5,
            rerelease_window_days: 25,
            rerelease_deadline_days: 5,
            confirmed_removal_from: Utc
                .with_ymd_and_hms(2020, 11, 10, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            rerelease_from: Utc
                .with_ymd_and_hms(2021, 3, 4, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            rerelease_countries: vec!["CN".to_owned()],
        }
    }
}

impl PolicyValues {
    /// R16, R17: whether a merchant based in `country` is in the re-release program (and sees
    /// its columns in the export). The countries are policy data (R30), never a constant.
    pub fn is_rerelease_country(&self, country: &str) -> bool {
        self.rerelease_countries
            .iter()
            .any(|c| c.eq_ignore_ascii_case(country.trim()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub values: PolicyValues,
}

/// The version with the latest `effective_from` not after `at`.
pub fn policy_in_force(policies: &[Policy], at: DateTime<Utc>) -> Option<&Policy> {
    policies
        .iter()
        .filter(|p| p.effective_from <= at)
        .max_by_key(|p| p.effective_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r17_rerelease_countries_come_from_the_policy_values() {
        let mut values = PolicyValues::default();
        assert!(values.is_rerelease_country("CN") && values.is_rerelease_country(" cn"));
        assert!(!values.is_rerelease_country("BR"));
        values.rerelease_countries = vec!["BR".into()];
        assert!(values.is_rerelease_country("BR") && !values.is_rerelease_country("CN"));
    }

    #[test]
    fn r30_the_latest_version_in_force_wins() {
        let v = |version, year| Policy {
            version,
            effective_from: Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap(),
            values: PolicyValues::default(),
        };
        let policies = [v(2, 2022), v(1, 2020)];
        let at = |year| Utc.with_ymd_and_hms(year, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(
            policy_in_force(&policies, at(2021)).map(|p| p.version),
            Some(1)
        );
        assert_eq!(
            policy_in_force(&policies, at(2023)).map(|p| p.version),
            Some(2)
        );
        assert_eq!(policy_in_force(&policies, at(2019)), None);
    }
}
