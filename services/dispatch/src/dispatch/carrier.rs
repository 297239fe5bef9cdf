//! The carrier side of dispatch: where each carrier's dispatch service is, the client of a
//! merchant's carrier account (its secret decrypted only here, only for the call), the buyer's
//! delivery data in the carriers' terms, and what a carrier's error means for the shipment.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::PgConnection;
use fulfillment_carriers::dispatch::inpost::{self, InPostDispatcher, InPostSettings};
use fulfillment_carriers::dispatch::paczka_w_ruchu::{
    self, PaczkaWRuchuDispatcher, PaczkaWRuchuSettings,
};
use fulfillment_carriers::dispatch::poczta_polska::{
    self, PocztaAccountKind, PocztaPolskaDispatcher, PocztaPolskaSettings,
};
use fulfillment_carriers::dispatch::{
    Contact, CreatedShipment, DispatchError, Dispatcher, Label, Secret, ShipmentRef,
    ShipmentRequest,
};
use fulfillment_core::models::Address;
use fulfillment_core::repo::carrier_accounts as accounts_repo;
use fulfillment_core::secrets::Keyring;
use fulfillment_core::{ServiceError, ServiceResult};

use crate::carrier_accounts::credentials;

/// Production endpoints of the carriers' dispatch services.
pub const INPOST_URL: &str = "https://api-shipx-pl.easypack24.net";
pub const POCZTA_POLSKA_URL: &str = "https://e-nadawca.poczta-polska.pl/websrv/en.php";
pub const PACZKA_W_RUCHU_URL: &str =
    "https://api.orlenpaczka.pl/WebServicePwRProd/WebServicePwR.asmx";

/// Where the dispatch services are and how long we wait for them. The server reads it from
/// `FULFILLMENT_DISPATCH_*` (docs/dispatch.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchConfig {
    pub inpost_url: String,
    pub poczta_polska_url: String,
    pub paczka_w_ruchu_url: String,
    /// Whole-request timeout of one carrier call.
    pub timeout: Duration,
    /// How many times, and how far apart, a new InPost shipment is asked for its tracking
    /// number (ShipX buys it asynchronously).
    pub inpost_polls: u32,
    pub inpost_poll_interval: Duration,
    /// Orders of one call dispatched at the same time.
    pub concurrency: usize,
    /// Most label bytes in one GetLabels answer; the rest are left for another call.
    pub max_label_bytes: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            inpost_url: INPOST_URL.to_owned(),
            poczta_polska_url: POCZTA_POLSKA_URL.to_owned(),
            paczka_w_ruchu_url: PACZKA_W_RUCHU_URL.to_owned(),
            timeout: Duration::from_secs(10),
            inpost_polls: inpost::DEFAULT_POLLS,
            inpost_poll_interval: inpost::DEFAULT_POLL_INTERVAL,
            concurrency: 8,
            max_label_bytes: 6 * 1024 * 1024,
        }
    }
}

impl DispatchConfig {
    /// The longest one shipment's conversation with its carrier can take (the InPost create
    /// and its polls), with a margin: how long an attempt is left to the call that made it.
    pub fn lease(&self) -> chrono::Duration {
        let polls = self.inpost_polls.min(100);
        let longest = self.timeout * (polls + 1) + self.inpost_poll_interval * polls;
        chrono::Duration::from_std(longest + Duration::from_secs(60))
            .unwrap_or_else(|_| chrono::Duration::hours(1))
    }
}

/// The dispatch client of one carrier account.
#[derive(Debug, Clone)]
pub(crate) enum CarrierClient {
    InPost(InPostDispatcher),
    PocztaPolska(PocztaPolskaDispatcher),
    PaczkaWRuchu(PaczkaWRuchuDispatcher),
}

impl CarrierClient {
    fn dispatcher(&self) -> &dyn Dispatcher {
        match self {
            CarrierClient::InPost(c) => c,
            CarrierClient::PocztaPolska(c) => c,
            CarrierClient::PaczkaWRuchu(c) => c,
        }
    }

    pub(crate) async fn create(
        &self,
        request: &ShipmentRequest,
    ) -> Result<CreatedShipment, DispatchError> {
        self.dispatcher().create_shipment(request).await
    }

    /// A shipment the carrier created without a tracking number yet (only ShipX does that).
    pub(crate) async fn resume(
        &self,
        carrier_shipment_id: &str,
    ) -> Result<CreatedShipment, DispatchError> {
        match self {
            CarrierClient::InPost(c) => c.fetch_shipment(carrier_shipment_id).await,
            _ => Err(DispatchError::Unsupported {
                operation: "asking for a shipment's tracking number",
            }),
        }
    }

    pub(crate) async fn label(&self, shipment: &ShipmentRef) -> Result<Label, DispatchError> {
        self.dispatcher().fetch_label(shipment).await
    }
}

/// The client of a connected account of the merchant, with its secret decrypted.
pub(crate) fn load_client(
    conn: &mut PgConnection,
    keys: Option<&Keyring>,
    config: &DispatchConfig,
    merchant_id: &str,
    account_id: &str,
) -> ServiceResult<(CarrierClient, String)> {
    let secret = credentials(conn, keys, merchant_id, account_id)?.secret;
    let row = accounts_repo::get(conn, merchant_id, account_id)?
        .ok_or_else(|| ServiceError::not_found("carrier account", account_id))?;
    let settings: BTreeMap<String, String> =
        serde_json::from_value(row.settings).unwrap_or_default();
    let client = build_client(config, &row.carrier, &settings, Secret::new(secret))?;
    Ok((client, row.carrier))
}

fn build_client(
    config: &DispatchConfig,
    carrier: &str,
    settings: &BTreeMap<String, String>,
    secret: Secret,
) -> ServiceResult<CarrierClient> {
    let get = |key: &str| settings.get(key).map(|v| v.trim().to_owned());
    let built = match carrier {
        inpost::CODE => InPostDispatcher::new(
            &config.inpost_url,
            InPostSettings {
                organization_id: get("organization_id").unwrap_or_default(),
                api_token: secret,
                default_template: get("default_template").unwrap_or_default(),
                send_from_locker: get("send_from_locker").as_deref() == Some("true"),
                sending_locker: get("sending_locker").filter(|l| !l.is_empty()),
            },
            config.timeout,
        )
        .map(|c| {
            CarrierClient::InPost(c.with_polling(config.inpost_polls, config.inpost_poll_interval))
        }),
        poczta_polska::CODE => {
            let mut default_sizes: BTreeMap<String, String> = settings
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("default_size.")
                        .map(|t| (t.to_owned(), v.clone()))
                })
                .collect();
            // Merchants name the parcel service by its product name.
            if let Some(size) = default_sizes.get("pocztex").cloned() {
                default_sizes.entry("parcel".to_owned()).or_insert(size);
            }
            PocztaPolskaDispatcher::new(
                &config.poczta_polska_url,
                PocztaPolskaSettings {
                    login: get("login").unwrap_or_default(),
                    password: secret,
                    kind: if get("account_kind").as_deref() == Some("marketplace") {
                        PocztaAccountKind::Marketplace
                    } else {
                        PocztaAccountKind::Regular
                    },
                    default_sizes,
                    cod_bank_account: get("cod_bank_account").filter(|n| !n.is_empty()),
                },
                config.timeout,
            )
            .map(CarrierClient::PocztaPolska)
        }
        paczka_w_ruchu::CODE => PaczkaWRuchuDispatcher::new(
            &config.paczka_w_ruchu_url,
            PaczkaWRuchuSettings {
                partner_id: get("partner_id").unwrap_or_default(),
                partner_key: secret,
                default_size: get("default_size").unwrap_or_default(),
            },
            config.timeout,
        )
        .map(CarrierClient::PaczkaWRuchu),
        other => {
            return Err(ServiceError::internal(format!(
                "carrier account of unknown carrier {other:?}"
            )));
        }
    };
    built.map_err(ServiceError::internal)
}

/// A person and their address in the carriers' terms. Our addresses keep the street and the
/// building number on one line; the carriers want them apart.
pub(crate) fn contact(address: &Address, email: &str) -> Contact {
    let (street, building) = split_street(&address.street_address1, &address.street_address2);
    Contact {
        name: address.name.trim().to_owned(),
        phone: address.phone_number.trim().to_owned(),
        email: email.trim().to_owned(),
        street,
        building,
        city: address.city.trim().to_owned(),
        postal_code: address.zipcode.trim().to_owned(),
        country_code: address.country.trim().to_uppercase(),
    }
}

/// `("ul. Długa 5/3", "")` → `("ul. Długa", "5/3")`; `("1 Main St", "")` → `("Main St", "1")`;
/// a flat number on the second line joins the building (`"5", "3"` → `"5/3"`); any other second
/// line stays with the street.
fn split_street(line1: &str, line2: &str) -> (String, String) {
    let words: Vec<&str> = line1.split_whitespace().collect();
    let numeric = |w: &str| w.chars().next().is_some_and(|c| c.is_ascii_digit());
    let (mut street, mut building) = match words.as_slice() {
        [rest @ .., last] if !rest.is_empty() && numeric(last) => {
            (rest.join(" "), (*last).to_owned())
        }
        [first, rest @ ..] if !rest.is_empty() && numeric(first) => {
            (rest.join(" "), (*first).to_owned())
        }
        _ => (words.join(" "), String::new()),
    };
    let line2 = line2.split_whitespace().collect::<Vec<_>>().join(" ");
    if !line2.is_empty() {
        if building.is_empty() && numeric(&line2) {
            building = line2;
        } else if !building.is_empty() && line2.chars().all(|c| c.is_ascii_alphanumeric()) {
            building = format!("{building}/{line2}");
        } else {
            street = format!("{street}, {line2}");
        }
    }
    (street, building)
}

/// What a carrier's error means for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// The carrier did not create the shipment: the attempt failed.
    Refused,
    /// We cannot tell whether the carrier created it: the attempt stays open and the next call
    /// sends it again with the same reference.
    Unknown,
    /// The carrier created it without a tracking number yet: keep its id and ask again.
    Pending { carrier_shipment_id: String },
}

/// The stable reason, the merchant's message and the disposition of a carrier's error.
pub(crate) fn failure(
    carrier: &str,
    account_id: &str,
    error: &DispatchError,
) -> (&'static str, String, Disposition) {
    if let DispatchError::CredentialsRejected = error {
        return (
            "CARRIER_CREDENTIALS_REJECTED",
            format!(
                "R19: {carrier} rejected the credentials of carrier account {account_id}: the \
                 merchant must fix them (connect the account again with the corrected \
                 credentials), then retry"
            ),
            Disposition::Refused,
        );
    }
    let (reason, advice, disposition) = classify(error);
    let message = match advice {
        Some(advice) => format!("{carrier}: {error}; {advice}"),
        None => format!("{carrier}: {error}"),
    };
    (reason, message, disposition)
}

/// What to retry after.
const RETRY_LATER: &str = "retry later";

/// A carrier's error (other than rejected credentials): its reason, what the merchant may do
/// about it, and its disposition.
fn classify(error: &DispatchError) -> (&'static str, Option<&'static str>, Disposition) {
    use Disposition::{Refused, Unknown};
    match error {
        DispatchError::Validation(_) => ("CARRIER_VALIDATION_FAILED", None, Refused),
        DispatchError::Refused(_) => ("CARRIER_REFUSED", None, Refused),
        DispatchError::RateLimited { .. } => ("CARRIER_RATE_LIMITED", Some(RETRY_LATER), Refused),
        DispatchError::Pending {
            carrier_shipment_id,
        } => (
            "CARRIER_TRACKING_PENDING",
            Some("retry later to attach it (the shipment is not created again)"),
            Disposition::Pending {
                carrier_shipment_id: carrier_shipment_id.clone(),
            },
        ),
        DispatchError::Timeout => (
            "CARRIER_TIMEOUT",
            Some(
                "it may have created the shipment: a retry sends it again with the same \
                 reference",
            ),
            Unknown,
        ),
        DispatchError::Unavailable(_) => ("CARRIER_UNAVAILABLE", Some(RETRY_LATER), Unknown),
        DispatchError::Http { status, .. } if *status >= 500 => {
            ("CARRIER_UNAVAILABLE", Some(RETRY_LATER), Unknown)
        }
        DispatchError::Malformed(_) => ("CARRIER_ANSWER_MALFORMED", None, Unknown),
        DispatchError::NotFound => ("CARRIER_SHIPMENT_NOT_FOUND", None, Refused),
        DispatchError::Unsupported { .. } => ("CARRIER_UNSUPPORTED", None, Refused),
        // Rejected credentials are answered by `failure` before this.
        DispatchError::CredentialsRejected
        | DispatchError::LabelGone
        | DispatchError::Http { .. }
        | DispatchError::Carrier { .. } => ("CARRIER_ERROR", None, Refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streets_and_buildings_are_split_the_way_carriers_want_them() {
        let split = |a: &str, b: &str| split_street(a, b);
        assert_eq!(
            split("ul. Długa 5/3", ""),
            ("ul. Długa".into(), "5/3".into())
        );
        assert_eq!(split("1 Main St", ""), ("Main St".into(), "1".into()));
        assert_eq!(split("Długa 5", "3"), ("Długa".into(), "5/3".into()));
        assert_eq!(split("Rynek", "12A"), ("Rynek".into(), "12A".into()));
        assert_eq!(
            split("Długa 5", "klatka B, piętro 2"),
            ("Długa, klatka B, piętro 2".into(), "5".into())
        );
        assert_eq!(split("  Plac  ", ""), ("Plac".into(), String::new()));
    }

    #[test]
    fn carrier_errors_say_what_to_do() {
        let (reason, message, disposition) = failure(
            "paczka-w-ruchu",
            "ca-1",
            &DispatchError::CredentialsRejected,
        );
        assert_eq!(reason, "CARRIER_CREDENTIALS_REJECTED");
        assert!(message.contains("must fix them") && message.contains("ca-1"));
        assert_eq!(disposition, Disposition::Refused);
        assert_eq!(
            failure("inpost", "ca-1", &DispatchError::Timeout).2,
            Disposition::Unknown
        );
        assert_eq!(
            failure(
                "inpost",
                "ca-1",
                &DispatchError::Http {
                    status: 502,
                    message: String::new()
                }
            )
            .2,
            Disposition::Unknown
        );
        assert_eq!(
            failure(
                "inpost",
                "ca-1",
                &DispatchError::Pending {
                    carrier_shipment_id: "7".into()
                }
            )
            .2,
            Disposition::Pending {
                carrier_shipment_id: "7".into()
            }
        );
        assert_eq!(
            failure(
                "inpost",
                "ca-1",
                &DispatchError::field("receiver.phone", "x")
            )
            .0,
            "CARRIER_VALIDATION_FAILED"
        );
    }

    #[test]
    fn the_lease_outlasts_the_longest_conversation() {
        let config = DispatchConfig::default();
        // 10 s timeout, 10 polls 1 s apart: 11 calls and 10 pauses, plus the margin.
        assert_eq!(config.lease(), chrono::Duration::seconds(110 + 10 + 60));
    }
}
