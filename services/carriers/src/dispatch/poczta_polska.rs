//! Poczta Polska, Elektroniczny Nadawca (EN): the SOAP 1.1 dispatch service.
//!
//! `POST {endpoint}` (production `https://e-nadawca.poczta-polska.pl/websrv/en.php`, test
//! `https://en-testwebapi.poczta-polska.pl/websrv/en.php`) with HTTP Basic authentication (the
//! account's login and password; a rejected pair is HTTP 401), `SOAPAction:
//! "http://e-nadawca.poczta-polska.pl/{operation}"`, namespace `http://e-nadawca.poczta-polska.pl`
//! (operation elements qualified, their children not: the schema has no
//! `elementFormDefault`). Data travels in attributes.
//!
//! - `addShipment`: `przesylki` with `xsi:type` naming the service, attributes `guid` (ours, 32
//!   hex characters), `opis` (our order id), `masa` (grams), `format` (the size), child `adres`
//!   (attributes `nazwa`, `ulica`, `numerDomu`, `miejscowosc`, `kodPocztowy`, `kraj`, `mobile`,
//!   `email`) and, for cash on delivery, `pobranie` (`sposobPobrania="RACHUNEK_BANKOWY"`,
//!   `kwotaPobrania` in grosze, `nrb`, `tytulem`). The answer has one `retval` per shipment with
//!   `guid`, `numerNadania` (the tracking number) and `error` children (`errorNumber`,
//!   `errorDesc`) when it was rejected.
//! - `getAddresLabelByGuid` (`guid`): `content` with `pdfContent` (base64 PDF), or `error`.
//! - `clearEnvelopeByGuids` (`guid`): removes shipments not sent yet from the buffer; `error`
//!   children when it could not.
//! - `sendEnvelope` ([`PocztaPolskaDispatcher::send_envelope`]): hands the buffer over to the
//!   post office; `idEnvelope`, `envelopeStatus`, `error`.
//!
//! Unregistered letters (list zwykły) are refused before any call: EN cannot create dispatch
//! orders for them and they have no tracking number (R19; the wFirma/Allegro+ guide of the
//! seed says the same).
//!
//! Sources: the EN WSDL (`en.wsdl`, namespace, operations and their `soapAction`, `adresType`,
//! `pobranieType`, `errorType`, `addShipmentResponseItemType`, `addressLabelContent`,
//! `getAddresLabelByGuid`, `clearEnvelopeByGuids`, `sendEnvelope`) as published with public
//! clients (quayle/ElektronicznyNadawca, sylapi/courier-enadawca); the Basic authentication and
//! the Pocztex 2021 service with its `format` S, M, L, XL, 2XL (the sizes an account's defaults
//! use) as used by public integrations. Modelled, not documented where we could read it: the
//! `format` attribute on registered letters (the older WSDL has `gabaryt` GABARYT_A/B there),
//! and the error texts in the fixtures: EN names fields only in `errorDesc`, so fields are
//! recognised by the words it uses ([`field_of`]).

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::soap::{self, Element, esc};
use super::{
    CreatedShipment, DispatchError, Dispatcher, FieldError, Label, Secret, ShipmentRef,
    ShipmentRequest, ShipmentType, build_client, decode_base64, field_from_message, national_phone,
    send, soap_answer, trim_base,
};
use crate::error::excerpt;

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
        let number = retval
            .attr("numerNadania")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| malformed("retval without numerNadania or error"))?;
        let guid = retval
            .attr("guid")
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .unwrap_or(&guid)
            .to_owned();
        Ok(CreatedShipment {
            carrier_shipment_id: guid.clone(),
            tracking_number: number.to_owned(),
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
        if req.shipment_type == ShipmentType::Parcel && req.parcel.weight_grams.is_none() {
            problems.push(FieldError::new(
                "parcel.weight_grams",
                "Poczta Polska needs the weight of a parcel",
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
        let mut attrs = format!(
            r#" xsi:type="{xsi_type}" guid="{guid}" opis="{opis}" format="{format}""#,
            opis = esc(req.reference.trim()),
            format = esc(size.as_deref().unwrap_or_default()),
        );
        if let Some(grams) = req.parcel.weight_grams {
            attrs.push_str(&format!(r#" masa="{grams}""#));
        }
        if req.shipment_type == ShipmentType::RegisteredLetter {
            attrs.push_str(r#" kategoria="EKONOMICZNA""#);
        }
        let country = r.country_code.trim();
        let mut adres = format!(
            r#"<adres nazwa="{nazwa}" ulica="{ulica}" numerDomu="{dom}" miejscowosc="{miasto}" kodPocztowy="{kod}""#,
            nazwa = esc(r.name.trim()),
            ulica = esc(r.street.trim()),
            dom = esc(r.building.trim()),
            miasto = esc(r.city.trim()),
            kod = esc(&r.postal_code.trim().replace('-', "")),
        );
        if !country.is_empty() && !country.eq_ignore_ascii_case("PL") {
            adres.push_str(&format!(r#" kraj="{}""#, esc(country)));
        }
        if !r.phone.trim().is_empty() {
            adres.push_str(&format!(r#" mobile="{}""#, esc(&national_phone(&r.phone))));
        }
        if !r.email.trim().is_empty() {
            adres.push_str(&format!(r#" email="{}""#, esc(r.email.trim())));
        }
        adres.push_str("/>");
        let pobranie = match cod {
            Some((amount, nrb)) => format!(
                r#"<pobranie sposobPobrania="RACHUNEK_BANKOWY" kwotaPobrania="{amount}" nrb="{nrb}" tytulem="{tytul}"/>"#,
                tytul = esc(&req.reference.trim().chars().take(30).collect::<String>()),
            ),
            None => String::new(),
        };
        Ok(format!("<przesylki{attrs}>{adres}{pobranie}</przesylki>"))
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

    async fn clear(&self, shipment: &ShipmentRef) -> Result<(), DispatchError> {
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

#[async_trait]
impl Dispatcher for PocztaPolskaDispatcher {
    fn carrier(&self) -> &str {
        CODE
    }

    async fn create_shipment(
        &self,
        req: &ShipmentRequest,
    ) -> Result<CreatedShipment, DispatchError> {
        self.create(req)
            .await
            .map_err(|e| e.redact(&self.secrets()))
    }

    async fn fetch_label(&self, shipment: &ShipmentRef) -> Result<Label, DispatchError> {
        self.label(shipment)
            .await
            .map_err(|e| e.redact(&self.secrets()))
    }

    /// Removes a shipment from the buffer; once the envelope is sent, EN refuses.
    async fn cancel(&self, shipment: &ShipmentRef) -> Result<(), DispatchError> {
        self.clear(shipment)
            .await
            .map_err(|e| e.redact(&self.secrets()))
    }
}

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
            number: e
                .attr("errorNumber")
                .or_else(|| e.child_text("errorNumber"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
            desc: e
                .attr("errorDesc")
                .or_else(|| e.child_text("errorDesc"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })
        .filter(|e| !(e.number.is_empty() || e.number == "0") || !e.desc.is_empty())
        .collect()
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
        assert!(xml.starts_with(r#"<przesylki xsi:type="en:pocztex2021KurierType" guid="G" opis="ORDER-&lt;1&gt;" format="M" masa="1200">"#), "{xml}");
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
        assert!(
            xml.contains(r#"format="S""#) && xml.contains(r#"kategoria="EKONOMICZNA""#),
            "{xml}"
        );
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
