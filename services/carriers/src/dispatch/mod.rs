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

pub mod inpost;
pub mod paczka_w_ruchu;
pub mod poczta_polska;
pub(crate) mod soap;

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::{RequestBuilder, StatusCode};

use crate::error::{TrackError, excerpt};
use crate::http::{self, Answer};

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

/// A label file. `Debug` shows its size, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Label {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

impl Label {
    pub const PDF: &'static str = "application/pdf";

    /// A PDF label; anything that does not start like a PDF is malformed.
    pub fn pdf(bytes: Vec<u8>) -> Result<Self, DispatchError> {
        if !bytes.starts_with(b"%PDF-") {
            return Err(DispatchError::Malformed(
                "the label is not a PDF document".into(),
            ));
        }
        Ok(Self {
            bytes,
            content_type: Self::PDF.to_owned(),
        })
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Label")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
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

/// One field the carrier (or our pre-check) rejected, named in our request's terms
/// (`receiver.phone`, `parcel.size`, `cod.bank_account`, `target_point`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What can go wrong when dispatching. Messages are shown to merchants and logged: none carries
/// a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The carrier rejected the account's credentials (R19: Paczka w Ruchu credentials are only
    /// checked here). Retrying will not help.
    #[error(
        "the carrier rejected the account's credentials: the merchant must fix them in the carrier account settings"
    )]
    CredentialsRejected,
    /// The shipment data is not acceptable, field by field.
    #[error("the shipment data was rejected: {}", describe_fields(.0))]
    Validation(Vec<FieldError>),
    /// Refused before any call: the carrier does not offer this (an unregistered letter...).
    #[error("refused: {0}")]
    Refused(String),
    /// The carrier no longer keeps this label (R20: labels last as long as the carrier keeps them).
    #[error("the carrier no longer keeps this label")]
    LabelGone,
    /// The carrier does not know this shipment.
    #[error("the carrier does not know this shipment")]
    NotFound,
    /// The carrier created the shipment but had not assigned its tracking number when we stopped
    /// asking: keep the id and ask again, do not create it again.
    #[error(
        "the carrier created shipment {carrier_shipment_id} but has not assigned its tracking number yet"
    )]
    Pending { carrier_shipment_id: String },
    /// The carrier did not answer within the configured timeout.
    #[error("the carrier did not answer in time")]
    Timeout,
    /// The carrier could not be reached or answered with a server error: worth retrying later.
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
    /// An HTTP status the carrier does not document for this call.
    #[error("unexpected HTTP {status} from the carrier: {message}")]
    Http { status: u16, message: String },
    /// The carrier refused the request for a reason of its own (a shipment that can no longer
    /// be cancelled, a label not bought yet...).
    #[error("the carrier refused the request ({code}): {message}")]
    Carrier { code: String, message: String },
    /// The answer is not what the carrier documents.
    #[error("malformed carrier answer: {0}")]
    Malformed(String),
    /// The carrier asks us to slow down; `retry_after` is its `Retry-After`, when it sent one.
    #[error("rate limited by the carrier{}", match retry_after {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    })]
    RateLimited { retry_after: Option<Duration> },
    /// The carrier (or this client) does not offer the operation.
    #[error("the carrier does not support {operation}")]
    Unsupported { operation: &'static str },
}

impl DispatchError {
    /// A validation error on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        DispatchError::Validation(vec![FieldError::new(field, message)])
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            DispatchError::Timeout
            | DispatchError::Unavailable(_)
            | DispatchError::RateLimited { .. }
            | DispatchError::Pending { .. } => true,
            DispatchError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the merchant must fix the carrier account (R19).
    pub fn needs_new_credentials(&self) -> bool {
        matches!(self, DispatchError::CredentialsRejected)
    }

    /// Replaces every occurrence of the given secrets in the messages with `[redacted]`.
    /// Empty secrets are ignored.
    #[must_use]
    pub fn redact(self, secrets: &[&str]) -> Self {
        let clean = |text: String| -> String {
            secrets
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .fold(text, |acc, secret| acc.replace(secret, "[redacted]"))
        };
        match self {
            DispatchError::Validation(errors) => DispatchError::Validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: clean(e.field),
                        message: clean(e.message),
                    })
                    .collect(),
            ),
            DispatchError::Refused(m) => DispatchError::Refused(clean(m)),
            DispatchError::Unavailable(m) => DispatchError::Unavailable(clean(m)),
            DispatchError::Http { status, message } => DispatchError::Http {
                status,
                message: clean(message),
            },
            DispatchError::Carrier { code, message } => DispatchError::Carrier {
                code: clean(code),
                message: clean(message),
            },
            DispatchError::Malformed(m) => DispatchError::Malformed(clean(m)),
            DispatchError::Pending {
                carrier_shipment_id,
            } => DispatchError::Pending {
                carrier_shipment_id: clean(carrier_shipment_id),
            },
            other => other,
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

/// A client for one carrier account: the whole-request timeout, no cookies, a user agent.
pub(crate) fn build_client(timeout: Duration) -> Result<reqwest::Client, DispatchError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("fulfillment-carriers/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DispatchError::Unavailable(format!("cannot build the HTTP client: {e}")))
}

/// A base URL without its trailing slash.
pub(crate) fn trim_base(url: String) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Sends the request and reads the whole body, whatever the status.
pub(crate) async fn send(request: RequestBuilder) -> Result<Answer, DispatchError> {
    http::send(request).await.map_err(from_transport)
}

fn from_transport(error: TrackError) -> DispatchError {
    match error {
        TrackError::Timeout => DispatchError::Timeout,
        TrackError::Malformed(m) => DispatchError::Malformed(m),
        TrackError::Transport(m) => DispatchError::Unavailable(m),
        TrackError::RateLimited { retry_after } => DispatchError::RateLimited { retry_after },
        TrackError::Unauthorized => DispatchError::CredentialsRejected,
        TrackError::NotFound => DispatchError::NotFound,
        TrackError::Carrier { status, message } => DispatchError::Http { status, message },
    }
}

/// The statuses every carrier maps the same way: 401/403 are the account's credentials, 429 a
/// rate limit, 5xx an unavailable carrier. `None` for the others, which each client reads.
pub(crate) fn common_status(answer: &Answer) -> Option<DispatchError> {
    let status = answer.status;
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Some(DispatchError::CredentialsRejected)
        }
        StatusCode::TOO_MANY_REQUESTS => Some(DispatchError::RateLimited {
            retry_after: http::retry_after(&answer.headers, SystemTime::now()),
        }),
        s if s.is_server_error() => Some(unavailable(answer)),
        _ => None,
    }
}

/// [`DispatchError::Unavailable`] naming the status, with a short excerpt of the body.
pub(crate) fn unavailable(answer: &Answer) -> DispatchError {
    DispatchError::Unavailable(format!(
        "HTTP {}: {}",
        answer.status.as_u16(),
        excerpt(&answer.body)
    ))
}

/// [`DispatchError::Http`] for a status the carrier does not document.
pub(crate) fn unexpected(answer: &Answer) -> DispatchError {
    DispatchError::Http {
        status: answer.status.as_u16(),
        message: excerpt(&answer.body),
    }
}

/// The body as text; a carrier that documents UTF-8 and sends something else is malformed.
/// A SOAP carrier's answer as a document; a SOAP fault (credentials, server, or the carrier's
/// own refusal) or an unexpected HTTP status is the error. Shared by the SOAP clients.
pub(crate) fn soap_answer(answer: Answer) -> Result<soap::Element, DispatchError> {
    let parsed = text(&answer).and_then(soap::parse);
    if let Ok(doc) = &parsed
        && let Some(fault) = soap::fault(doc)
    {
        return Err(if fault.is_authentication() {
            DispatchError::CredentialsRejected
        } else if fault.is_server() {
            DispatchError::Unavailable(format!(
                "SOAP fault {}: {}",
                fault.code,
                excerpt(fault.message.as_bytes())
            ))
        } else {
            DispatchError::Carrier {
                code: fault.code,
                message: excerpt(fault.message.as_bytes()),
            }
        });
    }
    if !answer.status.is_success() {
        return Err(common_status(&answer).unwrap_or_else(|| unexpected(&answer)));
    }
    parsed
}

pub(crate) fn text(answer: &Answer) -> Result<&str, DispatchError> {
    std::str::from_utf8(&answer.body)
        .map_err(|_| DispatchError::Malformed("the body is not UTF-8".into()))
}

/// Standard base64 (RFC 4648, padded or not), as SOAP carries `xsd:base64Binary`; line breaks
/// and other whitespace, with which SOAP services wrap long values, are skipped first.
pub(crate) fn decode_base64(input: &str) -> Result<Vec<u8>, DispatchError> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let clean: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT
        .decode(clean)
        .map_err(|_| DispatchError::Malformed("the label is not valid base64".into()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.expose(), "hunter2");
        assert!(Secret::new("  ").is_empty());
    }

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("Zg==").unwrap(), b"f");
        assert_eq!(decode_base64("Zm8=").unwrap(), b"fo");
        assert_eq!(decode_base64("Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_base64("Zm9v\r\nYmFy").unwrap(), b"foobar");
        assert_eq!(decode_base64("JVBERi0=").unwrap(), b"%PDF-");
        assert!(decode_base64("Zm9v!").is_err());
        assert!(decode_base64("Z").is_err());
        assert!(decode_base64("Zg=a").is_err());
    }

    #[test]
    fn names_and_phones() {
        assert_eq!(
            split_name(" Jan  Maria Kowalska "),
            ("Jan Maria".into(), "Kowalska".into())
        );
        assert_eq!(split_name("Cher"), (String::new(), "Cher".into()));
        assert_eq!(split_name(""), (String::new(), String::new()));
        assert_eq!(national_phone("+48 501-202-303"), "501202303");
        assert_eq!(national_phone("0048501202303"), "501202303");
        assert_eq!(national_phone("501 202 303"), "501202303");
    }

    #[test]
    fn labels_must_be_pdf() {
        let label = Label::pdf(b"%PDF-1.4 x".to_vec()).unwrap();
        assert_eq!(label.content_type, "application/pdf");
        assert_eq!(
            format!("{label:?}"),
            r#"Label { content_type: "application/pdf", bytes: 10 }"#
        );
        assert!(matches!(
            Label::pdf(b"<html>".to_vec()),
            Err(DispatchError::Malformed(_))
        ));
    }

    #[test]
    fn errors_describe_themselves_without_secrets() {
        let err = DispatchError::Validation(vec![
            FieldError::new("receiver.phone", "invalid for key sk-1"),
            FieldError::new("target_point", "required"),
        ])
        .redact(&["sk-1", ""]);
        assert_eq!(
            err.to_string(),
            "the shipment data was rejected: receiver.phone: invalid for key [redacted]; target_point: required"
        );
        assert!(
            DispatchError::CredentialsRejected
                .to_string()
                .contains("must fix them")
        );
        assert_eq!(
            DispatchError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
            .to_string(),
            "rate limited by the carrier (retry after 7s)"
        );
        assert!(DispatchError::Timeout.is_transient());
        assert!(
            DispatchError::Pending {
                carrier_shipment_id: "1".into()
            }
            .is_transient()
        );
        assert!(!DispatchError::CredentialsRejected.is_transient());
        assert!(DispatchError::CredentialsRejected.needs_new_credentials());
        assert!(!DispatchError::LabelGone.is_transient());
    }

    struct Nothing;

    #[async_trait]
    impl Dispatcher for Nothing {
        fn carrier(&self) -> &str {
            "nothing"
        }
        async fn create_shipment(
            &self,
            _req: &ShipmentRequest,
        ) -> Result<CreatedShipment, DispatchError> {
            Err(DispatchError::Refused("nothing to send".into()))
        }
        async fn fetch_label(&self, _shipment: &ShipmentRef) -> Result<Label, DispatchError> {
            Err(DispatchError::LabelGone)
        }
    }

    #[test]
    fn cancel_is_unsupported_by_default() {
        let shipment = ShipmentRef::new("1", "2", "3");
        let result = block_on(Nothing.cancel(&shipment));
        assert_eq!(
            result,
            Err(DispatchError::Unsupported {
                operation: "cancel"
            })
        );
        assert_eq!(
            result.unwrap_err().to_string(),
            "the carrier does not support cancel"
        );
    }

    /// A minimal executor for the test above.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::sync::Arc;
        use std::task::{Context, Poll, Waker};
        struct ThreadWaker(std::thread::Thread);
        impl std::task::Wake for ThreadWaker {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }
}
