//! Which client tracks which carrier: the direct clients configured through
//! `FULFILLMENT_CARRIER_<CODE>_URL`, and AfterShip (`FULFILLMENT_CARRIER_AFTERSHIP_*`) for
//! every other carrier code, used as AfterShip's courier slug.

use std::collections::HashMap;
use std::sync::Arc;

use crate::aftership::{self, AfterShipClient};
use crate::config::CarrierConfig;
use crate::error::TrackError;
use crate::inpost::{self, InPostClient};
use crate::intelipost::{self, IntelipostClient};
use crate::poczta_polska::{self, PocztaPolskaClient};
use crate::wishpost::{self, WishPostClient};
use crate::{TrackingClient, http};

/// The carriers with a direct client.
pub const DIRECT_CARRIERS: [&str; 4] = [
    wishpost::CODE,
    intelipost::CODE,
    inpost::CODE,
    poczta_polska::CODE,
];

/// The AfterShip configuration and the HTTP client shared by every slug it serves.
#[derive(Clone)]
struct Fallback {
    config: CarrierConfig,
    http: reqwest::Client,
}

/// The tracking clients by carrier code.
#[derive(Clone, Default)]
pub struct Registry {
    clients: HashMap<String, Arc<dyn TrackingClient>>,
    fallback: Option<Fallback>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("carriers", &self.carriers())
            .field("aftership", &self.fallback.as_ref().map(|f| &f.config))
            .finish()
    }
}

impl Registry {
    /// An empty registry: no carrier is tracked.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clients configured in the process environment.
    pub fn from_env() -> Result<Self, TrackError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Registry::from_env`] over any variable lookup. Fails only when an HTTP client cannot
    /// be built (TLS backend initialisation).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TrackError> {
        let mut registry = Self::new();
        for code in DIRECT_CARRIERS {
            let Some(config) = CarrierConfig::from_lookup(code, &lookup) else {
                continue;
            };
            let client: Arc<dyn TrackingClient> = match code {
                wishpost::CODE => Arc::new(WishPostClient::new(config)?),
                intelipost::CODE => Arc::new(IntelipostClient::new(config)?),
                inpost::CODE => Arc::new(InPostClient::new(config)?),
                _ => Arc::new(PocztaPolskaClient::new(config)?),
            };
            registry.insert(client);
        }
        if let Some(config) = CarrierConfig::from_lookup(aftership::CONFIG_CODE, &lookup) {
            registry.set_aftership(config)?;
        }
        Ok(registry)
    }

    /// Adds (or replaces) the client for its carrier code.
    pub fn insert(&mut self, client: Arc<dyn TrackingClient>) {
        self.clients
            .insert(client.carrier().to_ascii_lowercase(), client);
    }

    /// Serves every carrier without a direct client through AfterShip.
    pub fn set_aftership(&mut self, config: CarrierConfig) -> Result<(), TrackError> {
        let http = http::build_client(&config)?;
        self.fallback = Some(Fallback { config, http });
        Ok(())
    }

    /// The client for a carrier code: its direct client, else AfterShip with the code as the
    /// courier slug (when AfterShip is configured and the code is a plausible slug).
    pub fn get(&self, carrier: &str) -> Option<Arc<dyn TrackingClient>> {
        let code = carrier.trim().to_ascii_lowercase();
        if let Some(client) = self.clients.get(&code) {
            return Some(Arc::clone(client));
        }
        let fallback = self.fallback.as_ref()?;
        if !is_slug(&code) {
            return None;
        }
        Some(Arc::new(AfterShipClient::with_http(
            code,
            fallback.config.clone(),
            fallback.http.clone(),
        )))
    }

    /// The carrier codes with a direct client, sorted.
    pub fn carriers(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.clients.keys().cloned().collect();
        codes.sort();
        codes
    }

    /// Whether AfterShip serves the other carriers.
    pub fn has_aftership(&self) -> bool {
        self.fallback.is_some()
    }
}

/// AfterShip slugs are lowercase letters, digits and dashes (`china-post`, `usps`).
fn is_slug(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::lookup;

    #[test]
    fn builds_configured_carriers_only() {
        let registry = Registry::from_lookup(lookup(&[
            ("FULFILLMENT_CARRIER_INPOST_URL", "https://inpost.example"),
            (
                "FULFILLMENT_CARRIER_POCZTA_POLSKA_URL",
                "https://pp.example",
            ),
        ]))
        .unwrap();
        assert_eq!(registry.carriers(), vec!["inpost", "poczta-polska"]);
        assert_eq!(registry.get("inpost").unwrap().carrier(), "inpost");
        assert_eq!(
            registry.get("Poczta-Polska").unwrap().carrier(),
            "poczta-polska"
        );
        assert!(registry.get("wishpost").is_none());
        assert!(registry.get("usps").is_none(), "no AfterShip configured");
        assert!(!registry.has_aftership());
    }

    #[test]
    fn aftership_serves_every_other_slug() {
        let registry = Registry::from_lookup(lookup(&[
            ("FULFILLMENT_CARRIER_WISHPOST_URL", "https://wp.example"),
            ("FULFILLMENT_CARRIER_INTELIPOST_URL", "https://ip.example"),
            ("FULFILLMENT_CARRIER_AFTERSHIP_URL", "https://as.example"),
            ("FULFILLMENT_CARRIER_AFTERSHIP_API_KEY", "k"),
        ]))
        .unwrap();
        assert_eq!(registry.carriers(), vec!["intelipost", "wishpost"]);
        assert_eq!(registry.get("wishpost").unwrap().carrier(), "wishpost");
        assert_eq!(registry.get("china-post").unwrap().carrier(), "china-post");
        assert_eq!(registry.get("USPS").unwrap().carrier(), "usps");
        assert!(registry.get("../etc").is_none());
        assert!(registry.get("").is_none());
        assert!(registry.has_aftership());
    }

    #[test]
    fn insert_replaces_by_code() {
        let mut registry = Registry::new();
        let client = InPostClient::new(CarrierConfig::new("https://a.example")).unwrap();
        registry.insert(Arc::new(client));
        assert_eq!(registry.carriers(), vec!["inpost"]);
        let debug = format!("{registry:?}");
        assert!(debug.contains("inpost"), "{debug}");
    }
}
