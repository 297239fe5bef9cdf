//! Persistence and plumbing shared by every service and worker: the Diesel schema and models,
//! repositories, the pool and embedded migrations, the injected clock, the service error type and
//! the PostgreSQL bootstrap. It knows nothing of gRPC and holds no business rule (those live in
//! `fulfillment-policy`).

pub mod clock;
pub mod db;
pub mod error;
pub mod input;
pub mod logging;
pub mod models;
pub mod paging;
pub mod password;
#[cfg(feature = "pg-bootstrap")]
pub mod pg_bootstrap;
pub mod prepared;
pub mod repo;
pub mod run_counts;
pub mod schema;
pub mod secrets;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use db::{Db, PgPool};
pub use error::{FieldViolation, ServiceError, ServiceResult, Violations};
