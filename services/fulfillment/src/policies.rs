//! The policy versions (R30), read from the database and cached briefly, and published
//! (issue 24). Every decision records the version it used.
//!
//! The cache is safe across replicas because a version is only ever published for an instant
//! at least `publishing::minimum_lead()` (5 min) ahead, far beyond the 60 s refresh: by the time
//! a version takes effect, every replica's cache has reloaded and holds it, and
//! `policy_in_force` picks it exactly at its instant. The publishing replica drops its cache at
//! once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::PolicyRow;
use fulfillment_core::repo;
use fulfillment_core::repo::policies::Publication;
use fulfillment_core::{ServiceError, ServiceResult, Violations};
use fulfillment_policy::publishing::{self, Change};
use fulfillment_policy::values::{Policy, PolicyValues, policy_in_force};
use serde_json::json;

use crate::input::Actor;

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

    /// Forgets the cached versions (after a publication on this replica).
    pub fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
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

/// Longest audit note kept with a publication.
pub const MAX_NOTE_LEN: usize = 500;

/// A request to publish a version (issue 24).
#[derive(Debug, Clone)]
pub struct PublishInput {
    pub values: PolicyValues,
    pub effective_from: DateTime<Utc>,
    pub note: String,
}

/// A version with its publication (none for versions a migration seeded).
#[derive(Debug, Clone)]
pub struct PublishedVersion {
    pub policy: Policy,
    pub published_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub changes: Vec<Change>,
    pub note: String,
}

/// R30: publishes `input` as the next version, in one transaction with its audit row. The same
/// request again (the newest version already holds exactly these values from exactly this
/// instant) returns that version with `false`, so a retry never makes a second version.
pub fn publish(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    input: &PublishInput,
) -> ServiceResult<(PublishedVersion, bool)> {
    let mut v = Violations::new();
    let values = match publishing::validate_values(&input.values) {
        Ok(values) => Some(values),
        Err(problems) => {
            for p in problems {
                v.add(format!("values.{}", p.field), p.description);
            }
            None
        }
    };
    if input.note.chars().count() > MAX_NOTE_LEN {
        v.add("note", format!("at most {MAX_NOTE_LEN} characters"));
    }
    v.finish("INVALID_POLICY")?;
    let Some(values) = values else {
        return Err(ServiceError::internal("validated values missing"));
    };
    repo::policies::lock_for_publishing(conn)?;
    let existing: Vec<Policy> = repo::policies::all(conn)?
        .into_iter()
        .map(to_policy)
        .collect();
    let newest = existing.iter().max_by_key(|p| p.effective_from);
    if let Some(newest) = newest
        && newest.effective_from == input.effective_from
        && newest.values == values
    {
        let same = list(conn)?
            .into_iter()
            .find(|p| p.policy.version == newest.version)
            .ok_or_else(|| ServiceError::internal("the newest version vanished"))?;
        return Ok((same, false));
    }
    publishing::validate_effective_from(input.effective_from, newest, now).map_err(|p| {
        ServiceError::invalid("POLICY_EFFECTIVE_FROM_INVALID", p.field, p.description)
    })?;
    let version = existing.iter().map(|p| p.version).max().unwrap_or(0) + 1;
    let policy = Policy {
        version,
        effective_from: input.effective_from,
        values,
    };
    let changes = publishing::diff(newest.map(|p| &p.values), &policy.values);
    repo::policies::insert(conn, &to_row(&policy)?)?;
    repo::policies::record_publication(
        conn,
        &Publication {
            version,
            actor: actor.0.clone(),
            changes: changes_json(&changes),
            note: input.note.clone(),
            occurred_at: now,
        },
    )?;
    Ok((
        PublishedVersion {
            policy,
            published_by: Some(actor.0.clone()),
            published_at: Some(now),
            changes,
            note: input.note.clone(),
        },
        true,
    ))
}

/// Every version, oldest first, with its publication and what it changed against the one
/// before (for seeded versions, computed the same way).
pub fn list(conn: &mut PgConnection) -> ServiceResult<Vec<PublishedVersion>> {
    let policies: Vec<Policy> = repo::policies::all(conn)?
        .into_iter()
        .map(to_policy)
        .collect();
    let publications = repo::policies::publications(conn)?;
    let mut previous: Option<&PolicyValues> = None;
    let mut out = Vec::with_capacity(policies.len());
    for policy in &policies {
        let publication = publications.iter().find(|p| p.version == policy.version);
        out.push(PublishedVersion {
            policy: policy.clone(),
            published_by: publication.map(|p| p.actor.clone()),
            published_at: publication.map(|p| p.occurred_at),
            changes: publishing::diff(previous, &policy.values),
            note: publication.map(|p| p.note.clone()).unwrap_or_default(),
        });
        previous = Some(&policy.values);
    }
    Ok(out)
}

fn changes_json(changes: &[Change]) -> serde_json::Value {
    serde_json::Value::Array(
        changes
            .iter()
            .map(|c| json!({ "field": c.field, "from": c.from, "to": c.to }))
            .collect(),
    )
}

fn to_row(p: &Policy) -> ServiceResult<PolicyRow> {
    let days = |d: i64| i32::try_from(d).map_err(ServiceError::internal);
    Ok(PolicyRow {
        version: p.version,
        effective_from: p.effective_from,
        fulfillment_window_days: days(p.values.fulfillment_window_days)?,
        combine_window_days: days(p.values.combine_window_days)?,
        rerelease_window_days: days(p.values.rerelease_window_days)?,
        rerelease_deadline_days: days(p.values.rerelease_deadline_days)?,
        confirmed_removal_from: p.values.confirmed_removal_from,
        rerelease_from: p.values.rerelease_from,
        rerelease_countries: p.values.rerelease_countries.clone(),
    })
}

pub fn to_policy(row: PolicyRow) -> Policy {
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
