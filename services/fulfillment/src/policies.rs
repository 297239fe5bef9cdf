//! The policy versions (R30), read from the database and cached briefly: they change by
//! migration, not per request, and every decision still records the version it used.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::PolicyRow;
use fulfillment_core::repo;
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::values::{Policy, PolicyValues, policy_in_force};

const REFRESH_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct PolicyStore {
    cache: Mutex<Option<(Instant, Arc<Vec<Policy>>)>>,
}

impl PolicyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every version, oldest first.
    pub fn all(&self, conn: &mut PgConnection) -> ServiceResult<Arc<Vec<Policy>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((loaded, policies)) = cache.as_ref()
            && loaded.elapsed() < REFRESH_EVERY
        {
            return Ok(policies.clone());
        }
        let policies = Arc::new(
            repo::policies::all(conn)?
                .into_iter()
                .map(to_policy)
                .collect::<Vec<_>>(),
        );
        *cache = Some((Instant::now(), policies.clone()));
        Ok(policies)
    }

    /// The version in force at `at`.
    pub fn at(&self, conn: &mut PgConnection, at: DateTime<Utc>) -> ServiceResult<Policy> {
        let policies = self.all(conn)?;
        policy_in_force(&policies, at).cloned().ok_or_else(|| {
            ServiceError::precondition(
                "NO_POLICY",
                format!("R30: no policy version is in force at {at}"),
            )
        })
    }
}

fn to_policy(row: PolicyRow) -> Policy {
    Policy {
        version: row.version,
        effective_from: row.effective_from,
        values: PolicyValues {
            fulfillment_window_days: row.fulfillment_window_days.into(),
            combine_window_days: row.combine_window_days.into(),
            rerelease_window_days: row.rerelease_window_days.into(),
            rerelease_deadline_days: row.rerelease_deadline_days.into(),
            confirmed_removal_from: row.confirmed_removal_from,
            rerelease_from: row.rerelease_from,
            rerelease_countries: row.rerelease_countries,
        },
    }
}
