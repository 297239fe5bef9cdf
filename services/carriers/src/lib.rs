//! Carrier API clients. Each carrier is one module behind the [`TrackingClient`] trait: it
//! calls the carrier over HTTP and maps the carrier's own status vocabulary to the normalised
//! [`TrackingStatus`] of R21 (a table test per carrier). Base URLs and credentials are
//! configuration ([`CarrierConfig`]); nothing here touches the database.

pub mod aftership;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod http;
pub mod inpost;
pub mod intelipost;
pub mod normalize;
pub mod poczta_polska;
pub mod registry;
pub mod wishpost;
mod xml;

pub use config::CarrierConfig;
pub use error::TrackError;
// One definition of an event, shared with the tracking service through the policy crate.
pub use fulfillment_policy::tracking_status::{CarrierEvent, TrackingStatus};
pub use registry::Registry;

/// What a carrier says about one tracking number: its checkpoints, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackReport {
    pub tracking_number: String,
    pub events: Vec<CarrierEvent>,
}

/// A carrier's tracking API.
#[async_trait::async_trait]
pub trait TrackingClient: Send + Sync {
    /// Our carrier code (`wishpost`, `inpost`, ...): the `carrier` column of trackings.
    fn carrier(&self) -> &str;

    /// Every checkpoint the carrier has for this number.
    async fn track(&self, tracking_number: &str) -> Result<TrackReport, TrackError>;
}

/// Implements [`TrackingClient`] for a client with an inherent `fetch` and a `config`: every
/// error leaves through [`TrackError::redact`] with the configured credentials, so no carrier
/// can forget it. The carrier code is a constant, or read from the client
/// (`|client| &client.slug`).
macro_rules! redacting_tracking_client {
    ($client:ty, |$this:ident| $carrier:expr) => {
        #[async_trait::async_trait]
        impl $crate::TrackingClient for $client {
            fn carrier(&self) -> &str {
                let $this = self;
                $carrier
            }

            async fn track(
                &self,
                tracking_number: &str,
            ) -> Result<$crate::TrackReport, $crate::TrackError> {
                self.fetch(tracking_number)
                    .await
                    .map_err(|e| e.redact(&self.config.secrets()))
            }
        }
    };
    ($client:ty, $code:expr) => {
        $crate::redacting_tracking_client!($client, |_client| $code);
    };
}
pub(crate) use redacting_tracking_client;
