//! Poczta Polska, Elektroniczny Nadawca (EN, API 14.1.0): the SOAP 1.1 dispatch service.
//!
//! `POST {endpoint}` (production `https://e-nadawca.poczta-polska.pl/websrv/en.php`, test
//! `https://en-testwebapi.poczta-polska.pl/websrv/en.php`) with HTTP Basic authentication (the
//! account's login and password; a rejected pair is HTTP 401), `SOAPAction:
//! "http://e-nadawca.poczta-polska.pl/{operation}"`. The operation elements are qualified with
//! the namespace `http://e-nadawca.poczta-polska.pl`; their children are not (the schema has
//! no `elementFormDefault`); `xsi:type` names the service with a qualified type name.
//!
//! - `addShipment`: one `przesylki`. A parcel is `pocztex2021KurierType`: attributes `guid`
//!   (ours, 32 hex characters) and `opis` (our order id) from `przesylkaType`; then the child
//!   elements in the order of the schema's sequences: `adres` (`adresType`: attributes
//!   `nazwa`, `ulica`, `numerDomu`, `miejscowosc`, `kodPocztowy`, `mobile`, `email`),
//!   `pobranie` for cash on delivery (attributes `sposobPobrania="RACHUNEK_BANKOWY"`,
//!   `kwotaPobrania` in grosze, `nrb`, `tytulem`), `masa` (grams, 1 to 9 999 999) and `format`
//!   (`S`, `M`, `L`, `XL`, `2XL`) as **elements** (`pocztex2021Type`). A registered letter is
//!   `przesylkaPoleconaKrajowaType`, whose `kategoria`, `format` and `masa` are attributes.
//!   The answer has one `retval` per shipment (`addShipmentResponseItemType`) with the
//!   attributes `guid` and `numerNadania` (the tracking number: 20 digits for domestic items,
//!   R3) and `error` children (`errorType`: attributes `errorNumber`, `errorDesc`, `guid`)
//!   when it was rejected. Client renderings that show those attributes as child elements
//!   (sylapi/courier-enadawca's recorded answers) are read too.
//! - `getAddresLabelByGuid` (`guid`): `content` (`addressLabelContent`: `pdfContent` element,
//!   base64 PDF; attributes `nrNadania`, `guid`), or `error`.
//! - `clearEnvelopeByGuids` (`guid`): removes shipments not sent yet from the buffer; `error`
//!   children when it could not.
//! - `sendEnvelope` ([`PocztaPolskaDispatcher::send_envelope`]): hands the buffer over to the
//!   post office; `idEnvelope`, `envelopeStatus`, `error`.
//!
//! Unregistered letters (list zwykły) are refused before any call: they have no tracking
//! number (R19). Both services we send are domestic, so a receiver outside Poland is refused
//! before the call too.
//!
//! Sources: `en.wsdl` (API 14.1.0) from printu/ElektronicznyNadawca `wsdl/en.wsdl` @
//! 956dfb29f85a60066f2c4084d52d1f5a9080d6e4 (every type named above), sylapi/courier-enadawca's
//! recorded `addShipment` answers (the 20-digit `numerNadania`, error 33602). Not documented
//! where we could read it, so recognised by words (`en_error::field_of`,
//! `EnError::is_absence`): the error numbers and texts other than 33602; the values of the
//! letter's `formatType`.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

mod en_error;
mod shipment;
#[cfg(test)]
mod tests;

use en_error::{EnError, attr_or_child, errors, first_error};
use fulfillment_policy::tracking_number::normalize_tracking_number;

use super::soap::{self, Element, esc};
use super::{
    CreatedShipment, DispatchError, Label, Secret, ShipmentRef, ShipmentRequest, SoapDispatcher,
    decode_base64, send, soap_answer,
};

/// Our carrier code.
pub const CODE: &str = "poczta-polska";
/// Target namespace of the EN service.
pub const NAMESPACE: &str = "http://e-nadawca.poczta-polska.pl";
/// Sizes of parcels (Pocztex) and of registered letters.
pub const PARCEL_SIZES: [&str; 5] = ["S", "M", "L", "XL", "2XL"];
pub const LETTER_SIZES: [&str; 3] = ["S", "M", "L"];

/// The SOAP 1.1 action of an EN operation, quoted.
pub fn soap_action(operation: &str) -> String {
    format!("\"{NAMESPACE}/{operation}\"")
}

/// Which EN account this is (R19): a merchant may connect both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PocztaAccountKind {
    Regular,
    /// The account for marketplace ("allegrowe") shipments: the same service, its own login.
    Marketplace,
}

/// A Poczta Polska account (R19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocztaPolskaSettings {
    pub login: String,
    pub password: Secret,
    pub kind: PocztaAccountKind,
    /// Default size per shipment type, keyed by [`super::ShipmentType::as_str`] (`parcel` → `M`).
    pub default_sizes: BTreeMap<String, String>,
    /// The NRB cash on delivery is paid to, unless a request names another.
    pub cod_bank_account: Option<String>,
}

/// What `sendEnvelope` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSent {
    pub id_envelope: Option<i64>,
    /// `PRZYJETY`, `WALIDOWANY`, `WYSLANY`, `DOSTARCZONY` or `BLEDNY`.
    pub status: String,
}

/// The EN dispatch client for one account; `new` takes the service endpoint
/// (`https://e-nadawca.poczta-polska.pl/websrv/en.php`).
pub type PocztaPolskaDispatcher = SoapDispatcher<PocztaPolskaSettings>;

impl PocztaPolskaDispatcher {
    pub fn kind(&self) -> PocztaAccountKind {
        self.settings.kind
    }

    /// What errors must not show: the password, and the login unless it is too short to be
    /// told apart from ordinary words.
    fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.settings.password.expose()];
        if self.settings.login.trim().chars().count() >= 4 {
            secrets.push(self.settings.login.trim());
        }
        secrets
    }

    /// Hands the shipments in the buffer over to the post office (`urzadNadania`: the posting
    /// office of the contract, when the account has several).
    pub async fn send_envelope(
        &self,
        urzad_nadania: Option<u32>,
    ) -> Result<EnvelopeSent, DispatchError> {
        let body = match urzad_nadania {
            Some(office) => {
                format!("<en:sendEnvelope><urzadNadania>{office}</urzadNadania></en:sendEnvelope>")
            }
            None => "<en:sendEnvelope/>".to_owned(),
        };
        self.send_envelope_call(&body)
            .await
            .map_err(|e| e.redact(&self.secrets()))
    }

    async fn send_envelope_call(&self, body: &str) -> Result<EnvelopeSent, DispatchError> {
        let doc = self.call("sendEnvelope", body).await?;
        let response = doc
            .find("sendEnvelopeResponse")
            .ok_or_else(|| malformed("no sendEnvelopeResponse"))?;
        if let Some(err) = first_error(response) {
            return Err(err.into_carrier_error());
        }
        Ok(EnvelopeSent {
            id_envelope: response
                .child_text("idEnvelope")
                .and_then(|v| v.parse().ok()),
            status: response
                .child_text("envelopeStatus")
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Posts one operation and returns the parsed answer; transport, HTTP and SOAP-fault
    /// problems are errors here.
    async fn call(&self, operation: &str, body: &str) -> Result<Element, DispatchError> {
        let envelope = soap::envelope(
            &format!(
                r#"xmlns:en="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#
            ),
            body,
        );
        let request = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.settings.login, Some(self.settings.password.expose()))
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", soap_action(operation))
            .body(envelope);
        soap_answer(send(request).await?)
    }

    async fn create(&self, req: &ShipmentRequest) -> Result<CreatedShipment, DispatchError> {
        let guid = new_guid(&req.reference);
        let shipment = self.shipment_element(req, &guid)?;
        let doc = self
            .call(
                "addShipment",
                &format!("<en:addShipment>{shipment}</en:addShipment>"),
            )
            .await?;
        let retval = doc
            .find("retval")
            .ok_or_else(|| malformed("no addShipmentResponse/retval"))?;
        let errors = errors(retval);
        if !errors.is_empty() {
            if errors
                .iter()
                .any(|e| soap::mentions_authentication(&e.desc))
            {
                return Err(DispatchError::CredentialsRejected);
            }
            return Err(DispatchError::Validation(
                errors.iter().map(EnError::to_field_error).collect(),
            ));
        }
        // addShipmentResponseItemType has `numerNadania` and `guid` as attributes (the wire
        // form); some clients' recorded answers render them as child elements, read too.
        let number = attr_or_child(retval, "numerNadania")
            .ok_or_else(|| malformed("retval without numerNadania or error"))?;
        // R3: the 20 digits EN issues for domestic items, or a UPU S10 number, normalised
        // the way the order will store it.
        let number = normalize_tracking_number(number);
        let guid = attr_or_child(retval, "guid").unwrap_or(&guid).to_owned();
        Ok(CreatedShipment {
            carrier_shipment_id: guid.clone(),
            tracking_number: number,
            label_reference: guid,
            label: None,
        })
    }

    async fn label(&self, shipment: &ShipmentRef) -> Result<Label, DispatchError> {
        let response = &self.call_by_guid("getAddresLabelByGuid", shipment).await?;
        let pdf = response
            .find_all("content")
            .into_iter()
            .filter_map(|c| c.text_of("pdfContent"))
            .find(|p| !p.is_empty());
        if let Some(pdf) = pdf {
            return Label::pdf(decode_base64(pdf)?);
        }
        match first_error(response) {
            Some(err) if err.is_absence() => Err(DispatchError::LabelGone),
            Some(err) if soap::mentions_authentication(&err.desc) => {
                Err(DispatchError::CredentialsRejected)
            }
            Some(err) => Err(err.into_carrier_error()),
            None => Err(malformed("getAddresLabelByGuid without content or error")),
        }
    }

    async fn cancel_call(&self, shipment: &ShipmentRef) -> Result<(), DispatchError> {
        let response = &self.call_by_guid("clearEnvelopeByGuids", shipment).await?;
        match first_error(response) {
            None => Ok(()),
            Some(err) if err.is_absence() => Err(DispatchError::NotFound),
            Some(err) => Err(err.into_carrier_error()),
        }
    }

    /// Posts an operation that takes the shipment's one `guid` (its label, its cancellation)
    /// and returns the operation's `...Response` element.
    async fn call_by_guid(
        &self,
        operation: &str,
        shipment: &ShipmentRef,
    ) -> Result<Element, DispatchError> {
        let guid = esc(guid_of(shipment));
        let doc = self
            .call(
                operation,
                &format!("<en:{operation}><guid>{guid}</guid></en:{operation}>"),
            )
            .await?;
        let response = format!("{operation}Response");
        doc.find(&response)
            .cloned()
            .ok_or_else(|| malformed(&format!("no {response}")))
    }
}

super::redacting_dispatcher!(PocztaPolskaDispatcher, CODE);

fn malformed(what: &str) -> DispatchError {
    DispatchError::Malformed(format!("Elektroniczny Nadawca: {what}"))
}

/// The guid a label or cancellation refers to.
fn guid_of(shipment: &ShipmentRef) -> &str {
    let label = shipment.label_reference.trim();
    if label.is_empty() {
        shipment.carrier_shipment_id.trim()
    } else {
        label
    }
}

/// A new guid: 32 upper-case hex characters, unique per call (EN wants a new one for every
/// shipment; creating again for the same order is an explicit decision, R20).
fn new_guid(reference: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = RandomState::new();
    let half = |salt: u8| state.hash_one((reference, nanos, count, salt));
    format!("{:016X}{:016X}", half(1), half(2))
}
