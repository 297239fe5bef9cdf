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
//! where we could read it, so recognised by words ([`field_of`], [`EnError::is_absence`]): the
//! error numbers and texts other than 33602; the values of the letter's `formatType`.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::soap::{self, Element, esc};
use super::{
    CreatedShipment, DispatchError, FieldError, Label, Secret, ShipmentRef, ShipmentRequest,
    ShipmentType, build_client, decode_base64, field_from_message, national_phone, send,
    soap_answer, trim_base,
};
use crate::error::excerpt;
use fulfillment_policy::tracking_number::normalize_tracking_number;

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
    /// Default size per shipment type, keyed by [`ShipmentType::as_str`] (`parcel` → `M`).
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

/// The EN dispatch client for one account.
#[derive(Debug, Clone)]
pub struct PocztaPolskaDispatcher {
    endpoint: String,
    settings: PocztaPolskaSettings,
    http: reqwest::Client,
}

impl PocztaPolskaDispatcher {
    /// `base_url`: the service endpoint (`https://e-nadawca.poczta-polska.pl/websrv/en.php`).
    pub fn new(
        base_url: impl Into<String>,
        settings: PocztaPolskaSettings,
        timeout: Duration,
    ) -> Result<Self, DispatchError> {
        Ok(Self {
            endpoint: trim_base(base_url.into()),
            settings,
            http: build_client(timeout)?,
        })
    }

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

    /// The `przesylki` element; what EN would reject for sure is rejected here.
    fn shipment_element(&self, req: &ShipmentRequest, guid: &str) -> Result<String, DispatchError> {
        let (xsi_type, sizes) = match req.shipment_type {
            ShipmentType::UnregisteredLetter => {
                return Err(DispatchError::Refused(
                    "Poczta Polska's Elektroniczny Nadawca cannot create dispatch orders for unregistered letters (list zwykły): they have no tracking number to attach to the order".into(),
                ));
            }
            ShipmentType::Parcel => ("en:pocztex2021KurierType", &PARCEL_SIZES[..]),
            ShipmentType::RegisteredLetter => {
                ("en:przesylkaPoleconaKrajowaType", &LETTER_SIZES[..])
            }
        };
        if req.cod.is_some() && req.shipment_type == ShipmentType::RegisteredLetter {
            return Err(DispatchError::Refused(
                "a registered letter cannot be sent cash on delivery; send a parcel".into(),
            ));
        }

        let mut problems = Vec::new();
        let size = req
            .parcel
            .size
            .as_deref()
            .or_else(|| {
                self.settings
                    .default_sizes
                    .get(req.shipment_type.as_str())
                    .map(String::as_str)
            })
            .map(|s| s.trim().to_uppercase())
            .filter(|s| !s.is_empty());
        match &size {
            None => problems.push(FieldError::new(
                "parcel.size",
                format!(
                    "no size given and the account has no default size for {}",
                    req.shipment_type.as_str()
                ),
            )),
            Some(s) if !sizes.contains(&s.as_str()) => problems.push(FieldError::new(
                "parcel.size",
                format!("size {s:?} must be one of {}", sizes.join(", ")),
            )),
            Some(_) => {}
        }
        match req.parcel.weight_grams {
            None if req.shipment_type == ShipmentType::Parcel => problems.push(FieldError::new(
                "parcel.weight_grams",
                "Poczta Polska needs the weight of a parcel",
            )),
            // masaType: grams, 1 to 9 999 999.
            Some(grams) if !(1..=9_999_999).contains(&grams) => problems.push(FieldError::new(
                "parcel.weight_grams",
                "the weight must be 1 to 9999999 grams",
            )),
            _ => {}
        }
        let country = req.receiver.country_code.trim();
        if !(country.is_empty() || country.eq_ignore_ascii_case("PL")) {
            // Pocztex 2021 Kurier and the domestic registered letter (przesylkaPoleconaKrajowa)
            // are domestic services; EN's `kraj` is a country name, not a code.
            problems.push(FieldError::new(
                "receiver.country_code",
                "Poczta Polska's Pocztex and domestic registered letters deliver in Poland only",
            ));
        }
        let cod = match &req.cod {
            None => None,
            Some(cod) => {
                if !cod.currency.trim().eq_ignore_ascii_case("PLN") {
                    problems.push(FieldError::new(
                        "cod.currency",
                        "Poczta Polska collects cash on delivery in PLN only",
                    ));
                }
                let account = cod
                    .bank_account
                    .as_deref()
                    .or(self.settings.cod_bank_account.as_deref())
                    .map(nrb_digits)
                    .filter(|n| !n.is_empty());
                match account {
                    Some(nrb) if nrb.len() == 26 => Some((cod.amount_minor, nrb)),
                    Some(_) => {
                        problems.push(FieldError::new("cod.bank_account", "an NRB has 26 digits"));
                        None
                    }
                    None => {
                        problems.push(FieldError::new(
                            "cod.bank_account",
                            "cash on delivery needs a bank account (NRB) and the account has none",
                        ));
                        None
                    }
                }
            }
        };
        if !problems.is_empty() {
            return Err(DispatchError::Validation(problems));
        }

        let r = &req.receiver;
        let size = size.unwrap_or_default();
        // Attributes of przesylkaType (`guid`, `opis`), then, for the registered letter,
        // przesylkaPoleconaKrajowaType's own attributes (`kategoria`, `format`, `masa`).
        let mut attrs = format!(
            r#" xsi:type="{xsi_type}" guid="{guid}" opis="{opis}""#,
            opis = esc(req.reference.trim()),
        );
        if req.shipment_type == ShipmentType::RegisteredLetter {
            attrs.push_str(&format!(
                r#" kategoria="EKONOMICZNA" format="{}""#,
                esc(&size)
            ));
            if let Some(grams) = req.parcel.weight_grams {
                attrs.push_str(&format!(r#" masa="{grams}""#));
            }
        }
        // adresType: everything in attributes. `kraj` is left to its default ("Polska"): both
        // services are domestic and a foreign receiver was refused above.
        let mut adres = format!(
            r#"<adres nazwa="{nazwa}" ulica="{ulica}" numerDomu="{dom}" miejscowosc="{miasto}" kodPocztowy="{kod}""#,
            nazwa = esc(r.name.trim()),
            ulica = esc(r.street.trim()),
            dom = esc(r.building.trim()),
            miasto = esc(r.city.trim()),
            kod = esc(&r.postal_code.trim().replace('-', "")),
        );
        if !r.phone.trim().is_empty() {
            adres.push_str(&format!(r#" mobile="{}""#, esc(&national_phone(&r.phone))));
        }
        if !r.email.trim().is_empty() {
            adres.push_str(&format!(r#" email="{}""#, esc(r.email.trim())));
        }
        adres.push_str("/>");
        // The child elements, in the order the schema's sequences give them:
        // przesylkaRejestrowanaType (`adres`), then pocztex2021Type (`pobranie`, ..., `masa`,
        // ..., `format`). Unqualified: the schema has no elementFormDefault.
        let mut children = adres;
        if let Some((amount, nrb)) = cod {
            children.push_str(&format!(
                r#"<pobranie sposobPobrania="RACHUNEK_BANKOWY" kwotaPobrania="{amount}" nrb="{nrb}" tytulem="{tytul}"/>"#,
                tytul = esc(&req.reference.trim().chars().take(30).collect::<String>()),
            ));
        }
        if req.shipment_type == ShipmentType::Parcel {
            if let Some(grams) = req.parcel.weight_grams {
                children.push_str(&format!("<masa>{grams}</masa>"));
            }
            children.push_str(&format!("<format>{}</format>", esc(&size)));
        }
        Ok(format!("<przesylki{attrs}>{children}</przesylki>"))
    }

    async fn label(&self, shipment: &ShipmentRef) -> Result<Label, DispatchError> {
        let guid = guid_of(shipment);
        let doc = self
            .call(
                "getAddresLabelByGuid",
                &format!(
                    "<en:getAddresLabelByGuid><guid>{}</guid></en:getAddresLabelByGuid>",
                    esc(guid)
                ),
            )
            .await?;
        let response = doc
            .find("getAddresLabelByGuidResponse")
            .ok_or_else(|| malformed("no getAddresLabelByGuidResponse"))?;
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
        let guid = guid_of(shipment);
        let doc = self
            .call(
                "clearEnvelopeByGuids",
                &format!(
                    "<en:clearEnvelopeByGuids><guid>{}</guid></en:clearEnvelopeByGuids>",
                    esc(guid)
                ),
            )
            .await?;
        let response = doc
            .find("clearEnvelopeByGuidsResponse")
            .ok_or_else(|| malformed("no clearEnvelopeByGuidsResponse"))?;
        match first_error(response) {
            None => Ok(()),
            Some(err) if err.is_absence() => Err(DispatchError::NotFound),
            Some(err) => Err(err.into_carrier_error()),
        }
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

/// The digits of an NRB (`PL61 1090 1014 0000 0712 1981 2874` → 26 digits).
fn nrb_digits(nrb: &str) -> String {
    nrb.chars().filter(char::is_ascii_digit).collect()
}

/// One `error` of an EN answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EnError {
    number: String,
    desc: String,
}

impl EnError {
    fn to_field_error(&self) -> FieldError {
        FieldError::new(
            field_of(&self.desc),
            format!(
                "{} (EN error {})",
                excerpt(self.desc.as_bytes()),
                self.number
            ),
        )
    }

    /// Whether EN says the shipment (and so its label) is not there any more.
    fn is_absence(&self) -> bool {
        let d = self.desc.to_lowercase();
        [
            "brak przesy",
            "nie istnieje",
            "nie znaleziono",
            "nie odnaleziono",
            "archiw",
            "not found",
        ]
        .iter()
        .any(|w| d.contains(w))
    }

    fn into_carrier_error(self) -> DispatchError {
        DispatchError::Carrier {
            code: self.number,
            message: excerpt(self.desc.as_bytes()),
        }
    }
}

fn errors(parent: &Element) -> Vec<EnError> {
    parent
        .find_all("error")
        .into_iter()
        .map(|e| EnError {
            // errorType: attributes on the wire; child elements in client renderings.
            number: attr_or_child(e, "errorNumber")
                .unwrap_or_default()
                .to_owned(),
            desc: attr_or_child(e, "errorDesc").unwrap_or_default().to_owned(),
        })
        .filter(|e| !(e.number.is_empty() || e.number == "0") || !e.desc.is_empty())
        .collect()
}

/// An attribute, else the text of a direct child of that name; `None` when empty.
fn attr_or_child<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attr(name)
        .or_else(|| element.child_text(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn first_error(parent: &Element) -> Option<EnError> {
    errors(parent).into_iter().next()
}

/// The field of our request an EN error is about, from the attribute names and Polish words in
/// its `errorDesc`.
fn field_of(desc: &str) -> String {
    const TABLE: [(&str, &str); 20] = [
        ("kodpocztowy", "receiver.postal_code"),
        ("kod pocztowy", "receiver.postal_code"),
        ("miejscowo", "receiver.city"),
        ("numerdomu", "receiver.building"),
        ("numer domu", "receiver.building"),
        ("ulica", "receiver.street"),
        ("ulicy", "receiver.street"),
        ("mobile", "receiver.phone"),
        ("telefon", "receiver.phone"),
        ("email", "receiver.email"),
        ("e-mail", "receiver.email"),
        ("nrb", "cod.bank_account"),
        ("rachun", "cod.bank_account"),
        ("kwotapobrania", "cod.amount_minor"),
        ("pobrani", "cod.amount_minor"),
        ("masa", "parcel.weight_grams"),
        ("format", "parcel.size"),
        ("gabaryt", "parcel.size"),
        ("nazwa", "receiver.name"),
        ("adresat", "receiver.name"),
    ];
    field_from_message(desc, &TABLE).unwrap_or_else(|| "shipment".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{CashOnDelivery, Contact};

    fn settings() -> PocztaPolskaSettings {
        PocztaPolskaSettings {
            login: "shop".into(),
            password: Secret::new("pw"),
            kind: PocztaAccountKind::Regular,
            default_sizes: BTreeMap::from([("parcel".to_owned(), "M".to_owned())]),
            cod_bank_account: Some("61 1090 1014 0000 0712 1981 2874".into()),
        }
    }

    fn client() -> PocztaPolskaDispatcher {
        PocztaPolskaDispatcher::new(
            "http://127.0.0.1:9/en.php",
            settings(),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    fn request() -> ShipmentRequest {
        let mut req = ShipmentRequest::new(
            "ORDER-<1>",
            Contact {
                name: "Anna & Co".into(),
                phone: "+48 501 202 303".into(),
                email: "anna@example.com".into(),
                street: "Długa".into(),
                building: "5/3".into(),
                city: "Kraków".into(),
                postal_code: "30-001".into(),
                country_code: "PL".into(),
            },
            ShipmentType::Parcel,
        );
        req.parcel.weight_grams = Some(1200);
        req
    }

    #[test]
    fn parcel_element_escapes_and_uses_defaults() {
        let mut req = request();
        req.cod = Some(CashOnDelivery {
            amount_minor: 12_550,
            currency: "PLN".into(),
            bank_account: None,
        });
        let xml = client().shipment_element(&req, "G").unwrap();
        // pocztex2021Type: `masa` and `format` are elements, after `adres` and `pobranie`.
        assert!(
            xml.starts_with(
                r#"<przesylki xsi:type="en:pocztex2021KurierType" guid="G" opis="ORDER-&lt;1&gt;"><adres "#
            ),
            "{xml}"
        );
        assert!(
            xml.ends_with(r#"/><masa>1200</masa><format>M</format></przesylki>"#),
            "{xml}"
        );
        assert!(!xml.contains("masa=") && !xml.contains("format="), "{xml}");
        assert!(xml.contains(r#"nazwa="Anna &amp; Co""#), "{xml}");
        assert!(xml.contains(r#"kodPocztowy="30001""#), "{xml}");
        assert!(xml.contains(r#"mobile="501202303""#), "{xml}");
        assert!(!xml.contains("kraj="), "{xml}");
        assert!(xml.contains(r#"<pobranie sposobPobrania="RACHUNEK_BANKOWY" kwotaPobrania="12550" nrb="61109010140000071219812874""#), "{xml}");
    }

    #[test]
    fn prechecks_name_the_fields() {
        let mut req = request();
        req.shipment_type = ShipmentType::RegisteredLetter;
        req.parcel.size = Some("XL".into());
        let err = client().shipment_element(&req, "G").unwrap_err();
        assert!(
            matches!(&err, DispatchError::Validation(e) if e[0].field == "parcel.size"),
            "{err}"
        );

        let mut req = request();
        req.cod = Some(CashOnDelivery {
            amount_minor: 100,
            currency: "EUR".into(),
            bank_account: Some("123".into()),
        });
        let err = client().shipment_element(&req, "G").unwrap_err();
        let DispatchError::Validation(errors) = err else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["cod.currency", "cod.bank_account"]);

        let mut req = request();
        req.shipment_type = ShipmentType::RegisteredLetter;
        req.parcel.size = Some("s".into());
        let xml = client().shipment_element(&req, "G").unwrap();
        assert!(
            xml.contains(r#"xsi:type="en:przesylkaPoleconaKrajowaType""#),
            "{xml}"
        );
        // przesylkaPoleconaKrajowaType keeps `kategoria` and `format` as attributes.
        assert!(
            xml.contains(r#"kategoria="EKONOMICZNA" format="S""#) && !xml.contains("<format>"),
            "{xml}"
        );

        let mut req = request();
        req.receiver.country_code = "DE".into();
        req.parcel.weight_grams = Some(0);
        let err = client().shipment_element(&req, "G").unwrap_err();
        let DispatchError::Validation(errors) = err else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["parcel.weight_grams", "receiver.country_code"]);
    }

    #[test]
    fn error_texts_name_fields() {
        assert_eq!(
            field_of("Nieprawidłowy kod pocztowy adresata"),
            "receiver.postal_code"
        );
        assert_eq!(
            field_of("Atrybut kodPocztowy jest niepoprawny"),
            "receiver.postal_code"
        );
        assert_eq!(
            field_of("Niepoprawny numer rachunku bankowego (NRB)"),
            "cod.bank_account"
        );
        assert_eq!(field_of("Przekroczona masa"), "parcel.weight_grams");
        assert_eq!(field_of("Coś poszło nie tak"), "shipment");
    }

    #[test]
    fn guids_are_32_hex_and_unique() {
        let a = new_guid("X");
        let b = new_guid("X");
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_ne!(a, b);
        assert_eq!(
            soap_action("addShipment"),
            "\"http://e-nadawca.poczta-polska.pl/addShipment\""
        );
    }
}
