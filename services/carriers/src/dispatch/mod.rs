//! Dispatch (R19, R20): creating a shipment with the carrier of a merchant's carrier account,
//! fetching its label for as long as the carrier keeps it, and cancelling it where the carrier
//! allows. One module per carrier behind the [`Dispatcher`] trait:
//!
//! - [`inpost`]: InPost ShipX REST (organisation id, API token, default template, sending
//!   locker);
//! - [`poczta_polska`]: Poczta Polska Elektroniczny Nadawca SOAP (login, password, regular or
//!   marketplace account, default size per shipment type, NRB for cash on delivery);
//! - [`paczka_w_ruchu`]: Paczka w Ruchu / ORLEN Paczka SOAP (PartnerID, PartnerKey, default
//!   size).
//!
//! Like the tracking clients: one `reqwest::Client` per carrier account with the whole-request
//! timeout, the body read with the same cap ([`crate::http::MAX_BODY_BYTES`]), `429` mapped to
//! [`DispatchError::RateLimited`] with its `Retry-After` (callers pace themselves with it), and
//! errors that never carry a credential: secrets live in [`Secret`] (whose `Debug` prints `***`),
//! messages are built from status codes and short body excerpts and pass through
//! [`DispatchError::redact`] with the account's credentials before they leave a client.
//!
//! Anything the carrier does not offer is refused before any HTTP call
//! ([`DispatchError::Refused`]): an unregistered Poczta Polska letter has no tracking number
//! (R19), letters are not sent through InPost or Paczka w Ruchu.

mod answer;
mod error;
pub mod inpost;
mod label;
pub mod paczka_w_ruchu;
pub mod poczta_polska;
pub(crate) mod soap;
#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;

pub use answer::SoapDispatcher;
pub(crate) use answer::{common_status, connect, send, soap_answer, text, unexpected};
pub use error::{DispatchError, FieldError};
pub use label::Label;
pub(crate) use label::decode_base64;

/// A credential (password, API token, partner key). `Debug` prints `***`; there is no
/// `Display`, so it cannot end up in a formatted message by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it to the carrier.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// What is being sent. Only tracked shipments can be dispatched through an integration: an
/// unregistered letter has no tracking number to attach to the order (R19, R20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShipmentType {
    Parcel,
    RegisteredLetter,
    UnregisteredLetter,
}

impl ShipmentType {
    /// The key of this type in an account's default sizes (`default_size.<type>`).
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentType::Parcel => "parcel",
            ShipmentType::RegisteredLetter => "registered_letter",
            ShipmentType::UnregisteredLetter => "unregistered_letter",
        }
    }

    /// Whether the carrier gives this type a tracking number.
    pub fn is_tracked(self) -> bool {
        !matches!(self, ShipmentType::UnregisteredLetter)
    }
}

/// A person or company and their address: the buyer's delivery data, or the merchant as sender.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub street: String,
    /// Building number, with the flat when there is one (`12A/3`).
    pub building: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 (`PL`).
    pub country_code: String,
}

/// The parcel: its size code or template and its weight. `None` takes the account's default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parcel {
    /// The carrier's own code: an InPost template (`small`, `medium`, `large`), a Poczta Polska
    /// size (`S`, `M`, `L`, `XL`, `2XL`), a Paczka w Ruchu box size (`S`, `M`, `L`).
    pub size: Option<String>,
    pub weight_grams: Option<u32>,
}

/// Cash on delivery: the amount in minor units (grosze) and the account it is paid to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashOnDelivery {
    pub amount_minor: u64,
    /// ISO 4217 (`PLN`).
    pub currency: String,
    /// The merchant's bank account (NRB); `None` takes the carrier account's.
    pub bank_account: Option<String>,
}

/// One shipment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRequest {
    /// Our key for this shipment (the order id): the reference the carrier prints and returns.
    pub reference: String,
    pub receiver: Contact,
    /// The merchant, when the carrier needs the sender in the request (Paczka w Ruchu); the
    /// others take the sender from the account.
    pub sender: Option<Contact>,
    pub shipment_type: ShipmentType,
    pub parcel: Parcel,
    pub cod: Option<CashOnDelivery>,
    /// The locker or pickup point the buyer chose.
    pub target_point: Option<String>,
    /// The locker the merchant posts from; `None` takes the account's.
    pub sending_locker: Option<String>,
}

impl ShipmentRequest {
    /// A request with the account's defaults for everything optional.
    pub fn new(
        reference: impl Into<String>,
        receiver: Contact,
        shipment_type: ShipmentType,
    ) -> Self {
        Self {
            reference: reference.into(),
            receiver,
            sender: None,
            shipment_type,
            parcel: Parcel::default(),
            cod: None,
            target_point: None,
            sending_locker: None,
        }
    }
}

/// What the carrier gave back for a new shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedShipment {
    /// The carrier's id of the shipment (ShipX id, Elektroniczny Nadawca guid, pack code).
    pub carrier_shipment_id: String,
    /// The number the buyer tracks the parcel with (R20).
    pub tracking_number: String,
    /// What [`Dispatcher::fetch_label`] needs to get the label again.
    pub label_reference: String,
    /// The label, when the carrier returned it with the shipment (Paczka w Ruchu).
    pub label: Option<Label>,
}

impl CreatedShipment {
    /// The reference to keep for labels and cancellation.
    pub fn shipment_ref(&self) -> ShipmentRef {
        ShipmentRef {
            carrier_shipment_id: self.carrier_shipment_id.clone(),
            tracking_number: self.tracking_number.clone(),
            label_reference: self.label_reference.clone(),
        }
    }
}

/// A shipment created earlier, as stored with the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRef {
    pub carrier_shipment_id: String,
    pub tracking_number: String,
    pub label_reference: String,
}

impl ShipmentRef {
    pub fn new(
        carrier_shipment_id: impl Into<String>,
        tracking_number: impl Into<String>,
        label_reference: impl Into<String>,
    ) -> Self {
        Self {
            carrier_shipment_id: carrier_shipment_id.into(),
            tracking_number: tracking_number.into(),
            label_reference: label_reference.into(),
        }
    }
}

/// A carrier's dispatch service.
#[async_trait]
pub trait Dispatcher: Send + Sync {
    /// Our carrier code (`inpost`, `poczta-polska`, `paczka-w-ruchu`).
    fn carrier(&self) -> &str;

    /// Sends the buyer's delivery data to the carrier and returns the tracking number (R20).
    async fn create_shipment(
        &self,
        req: &ShipmentRequest,
    ) -> Result<CreatedShipment, DispatchError>;

    /// The label of a shipment created earlier, while the carrier keeps it.
    async fn fetch_label(&self, shipment: &ShipmentRef) -> Result<Label, DispatchError>;

    /// Cancels a shipment the carrier has not handled yet.
    async fn cancel(&self, shipment: &ShipmentRef) -> Result<(), DispatchError> {
        let _ = shipment;
        Err(DispatchError::Unsupported {
            operation: "cancel",
        })
    }
}

/// Splits "Jan Maria Kowalska" into ("Jan Maria", "Kowalska"): carriers that want a first and a
/// last name get the last word as the last name.
pub(crate) fn split_name(name: &str) -> (String, String) {
    let name = name.split_whitespace().collect::<Vec<_>>();
    match name.split_last() {
        None => (String::new(), String::new()),
        Some((last, [])) => (String::new(), (*last).to_owned()),
        Some((last, first)) => (first.join(" "), (*last).to_owned()),
    }
}

/// A Polish phone number as the nine digits carriers want (`+48 501-202-303` → `501202303`);
/// anything else is passed as its digits.
pub(crate) fn national_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        11 if digits.starts_with("48") => digits[2..].to_owned(),
        13 if digits.starts_with("0048") => digits[4..].to_owned(),
        _ => digits,
    }
}

/// The field of our request a carrier's message is about, from the words it uses (the SOAP
/// services name fields only in their messages). `None` when no known word appears.
pub(crate) fn field_from_message(message: &str, table: &[(&str, &str)]) -> Option<String> {
    let lower = message.to_lowercase();
    table
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, field)| (*field).to_owned())
}

/// Implements [`Dispatcher`] for a client with inherent `create`, `label` and `cancel_call`
/// methods and a `secrets()` list: every answer leaves through [`DispatchError::redact`] with
/// the account's credentials (R19), so no carrier can forget it. One line per carrier.
macro_rules! redacting_dispatcher {
    ($client:ty, $code:expr) => {
        #[async_trait::async_trait]
        impl $crate::dispatch::Dispatcher for $client {
            fn carrier(&self) -> &str {
                $code
            }

            async fn create_shipment(
                &self,
                req: &$crate::dispatch::ShipmentRequest,
            ) -> Result<$crate::dispatch::CreatedShipment, $crate::dispatch::DispatchError> {
                self.create(req)
                    .await
                    .map_err(|e| e.redact(&self.secrets()))
            }

            async fn fetch_label(
                &self,
                shipment: &$crate::dispatch::ShipmentRef,
            ) -> Result<$crate::dispatch::Label, $crate::dispatch::DispatchError> {
                self.label(shipment)
                    .await
                    .map_err(|e| e.redact(&self.secrets()))
            }

            async fn cancel(
                &self,
                shipment: &$crate::dispatch::ShipmentRef,
            ) -> Result<(), $crate::dispatch::DispatchError> {
                self.cancel_call(shipment)
                    .await
                    .map_err(|e| e.redact(&self.secrets()))
            }
        }
    };
}
pub(crate) use redacting_dispatcher;
