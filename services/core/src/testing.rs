//! Test support (used by this workspace's integration tests). A fresh database per test, copied from a migrated template (the crates.io pattern), on the
//! PostgreSQL the bootstrap finds. Tests run in parallel with no shared state.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;

use crate::db::{self, MIGRATIONS, PgPool};
use crate::pg_bootstrap::PgTarget;

/// The template's name carries a digest of the migrations' names, so checkouts with different
/// migrations (a branch beside main, say) sharing one PostgreSQL never copy each other's schema.
const TEMPLATE_PREFIX: &str = "fulfillment_test_template";
/// Serialises template maintenance and copies across test processes.
const LOCK_KEY: i64 = 0x66_75_6c_66_69_6c;

static TARGET: OnceLock<PgTarget> = OnceLock::new();
static TEMPLATE_READY: OnceLock<String> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL server the tests use: `DATABASE_URL`'s server if set, else the embedded default.
pub fn target() -> &'static PgTarget {
    TARGET.get_or_init(|| {
        let explicit = std::env::var("DATABASE_URL").ok();
        PgTarget::resolve(explicit.as_deref()).expect("no PostgreSQL for the tests")
    })
}

/// A database that exists for the life of this value, migrated to the latest schema.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    pub fn new() -> Self {
        let target = target();
        let admin_url = target.database_url("postgres");
        let mut admin =
            PgConnection::establish(&admin_url).expect("connect to the maintenance database");
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(&mut admin)
            .expect("take the template lock");
        let template = TEMPLATE_READY.get_or_init(|| prepare_template(&mut admin, target));
        let name = format!(
            "fulfillment_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .expect("drop a leftover test database");
        diesel::sql_query(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut admin)
        .expect("copy the template database");
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(&mut admin)
            .expect("release the template lock");
        let url = target.database_url(&name);
        Self { name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    pub fn pool(&self, size: u32) -> PgPool {
        db::build_pool(&self.url, size).expect("pool for the test database")
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = target().database_url("postgres");
        if let Ok(mut admin) = PgConnection::establish(&admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// Brings the template up to the embedded migrations. Runs under the advisory lock, and closes
/// its connection before returning: PostgreSQL copies a template only when nobody is connected.
fn prepare_template(admin: &mut PgConnection, target: &PgTarget) -> String {
    let template = template_name();
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{template}')"
    )))
    .get_result(admin)
    .expect("look up the template database");
    if !exists {
        diesel::sql_query(format!("CREATE DATABASE \"{template}\""))
            .execute(admin)
            .expect("create the template database");
    }
    let mut conn =
        PgConnection::establish(&target.database_url(&template)).expect("connect to the template");
    conn.run_pending_migrations(MIGRATIONS)
        .expect("migrate the template database");
    template
}

fn template_name() -> String {
    use diesel::migration::MigrationSource;
    use std::hash::{Hash, Hasher};
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .expect("read the embedded migrations");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in &migrations {
        migration.name().to_string().hash(&mut hasher);
    }
    format!("{TEMPLATE_PREFIX}_{:016x}", hasher.finish())
}
