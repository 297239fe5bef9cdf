//! Poczta Polska, the "Sledzenie" tracking web service (SOAP 1.1).
//!
//! `POST {base}` (production: `https://tt.poczta-polska.pl/Sledzenie/services/Sledzenie.SledzenieHttpSoap11Endpoint/`)
//! with `SOAPAction: "urn:sprawdzPrzesylkePl"` and a WS-Security `UsernameToken` (password
//! text); without configured credentials we use the public account Poczta Polska documents,
//! `sledzeniepp` / `PPSA`. Operation `sprawdzPrzesylkePl(numer)` (the one with Polish event
//! names, which [`normalize_event`] reads for unknown codes) answers
//! `sprawdzPrzesylkePlResponse/return` with `numer`, `status` (0 found, 1 several parcels
//! share the number, -1 no such parcel, -2 invalid number, -99 other error) and
//! `danePrzesylki` (`xsi:nil` when there is no parcel) with `zdarzenia/zdarzenie*`: `czas`,
//! `jednostka/nazwa` (and `daneSzczegolowe`), `kod`, `konczace`, `nazwa`, `przyczyna`
//! (`xsi:nil`, or its own `kod` and `nazwa`). Namespaces: the operation in
//! `http://sledzenie.pocztapolska.pl` (`ns:`), the data types in
//! `http://sledzenie.pocztapolska.pl/xsd` (Axis2's `ax21:`, `ax23:`… vary between
//! deployments): the parser matches local names only.
//!
//! `czas` is Polish local time without an offset (`2021-03-07 12:57`): it is converted with
//! the EU summer-time rule ([`warsaw_to_utc`]), no time-zone database needed.
//!
//! Sources: the answers for Poczta Polska's public test numbers `testp0` and `testp-1` as
//! recorded in github.com/sylapi/courier-enadawca `tests/Integration/Mock/sprawdzPrzesylkePlSuccess.xml`
//! and `sprawdzPrzesylkePlFailure.xml` @ abb3981e4db7eab5dc06fae530aee9485ea057e6 (stored
//! there without the envelope and prefixes; the fixtures put them back), the operation name
//! and the WS-Security header in that client's `src/EnadawcaCourierGetStatuses.php` and
//! `src/EnadawcaSession.php` (same commit); the event codes in [`EVENT_CODES`]; Poczta
//! Polska, "Instrukcja użytkownika systemu śledzenia z wykorzystaniem metody webserwisu
//! WSDL/SOAP" (methods, public account, status values). Not verified: the `SOAPAction`
//! value (Axis2's default, not seen on the wire) and the exact prefixes Poczta Polska's
//! server writes.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};
use crate::http;
use crate::normalize::unknown_status;
use crate::{CarrierEvent, TrackReport, TrackingClient, TrackingStatus};

/// Our carrier code.
pub const CODE: &str = "poczta-polska";
/// The public account Poczta Polska documents for one-off queries.
pub const DEFAULT_USERNAME: &str = "sledzeniepp";
pub const DEFAULT_PASSWORD: &str = "PPSA";
/// SOAP 1.1 action of `sprawdzPrzesylkePl` (quoted, as SOAP 1.1 wants; Axis2's `urn:`
/// convention, as for every Sledzenie operation).
pub const SOAP_ACTION: &str = "\"urn:sprawdzPrzesylkePl\"";
/// Target namespace of the Sledzenie service.
pub const NAMESPACE: &str = "http://sledzenie.pocztapolska.pl";

/// The event codes this module knows: the code, Poczta Polska's name for it, our status.
///
/// Codes and names: the six the Sledzenie answer for Poczta Polska's public test number
/// `testp0` carries (github.com/sylapi/courier-enadawca
/// `tests/Integration/Mock/sprawdzPrzesylkePlSuccess.xml` @
/// abb3981e4db7eab5dc06fae530aee9485ea057e6: `P_NAD`, `P_WZL`, `P_PZL`, `P_WD`, `P_A`, `P_D`),
/// and the parcel events of that client's code list (`src/EnadawcaStatusTransformer.php`,
/// same commit). Poczta Polska publishes no list of its own. Left out on purpose, so that they
/// are counted as unknown rather than guessed: the `*_ZPO` variants (events of the
/// return-receipt card or of items with one; which, no public source says), the UPU letter
/// codes `A`…`G`, and the `*_A`/`*_K` cancellations and corrections of customs results.
///
/// Our readings: posting and every move between units is `IN_TRANSIT` (posting is already a
/// scan at a post office); handing to the postman (`P_WD`, "Wydanie przesyłki
/// doręczycielowi") and entry into the delivery book are `OUT_FOR_DELIVERY`; a failed
/// delivery with a retry to come is `FAILED_ATTEMPT`; an awizo (notice left, the parcel waits
/// at the office or a point) is `AVAILABLE_FOR_PICKUP`; delivery, a mailbox or PO-box drop
/// and collection at the office are `DELIVERED`; returns, losses, damage and customs holds
/// are `EXCEPTION`; registration before posting and plain notifications are
/// `INFO_RECEIVED` (not scans: they confirm nothing about the parcel).
pub const EVENT_CODES: [(&str, &str, TrackingStatus); 97] = {
    use TrackingStatus::*;
    [
        ("P_REJ", "Rejestracja przesyłki", InfoReceived),
        ("P_REJ_KN", "Rejestracja przesyłki z KN", InfoReceived),
        (
            "P_BRAKN",
            "Brak nadania przesyłki zapowiedzianej w KN",
            Exception,
        ),
        ("P_NAD", "Nadanie", InTransit),
        ("P_PWP", "Przesyłka przyjęta w punkcie", InTransit),
        ("P_Z", "Załadunek przesyłki", InTransit),
        ("P_WZL", "Wysłanie przesyłki z ładunkiem", InTransit),
        ("P_PZL", "Przyjęcie przesyłki z ładunkiem", InTransit),
        ("P_WYPL", "Wysłanie przesyłki z Polski", InTransit),
        ("P_WEPL", "Przyjęcie przesyłki w Polsce", InTransit),
        ("P_WYOC", "Wysłanie przesyłki z kraju nadania", InTransit),
        (
            "P_WEOC",
            "Przyjęcie przesyłki w kraju przeznaczenia",
            InTransit,
        ),
        (
            "P_OWUWPP",
            "Odebranie przesyłki w urzędzie wymiany (poczta przychodząca)",
            InTransit,
        ),
        (
            "P_OWUWPW",
            "Odebranie przesyłki w urzędzie wymiany (poczta wychodząca)",
            InTransit,
        ),
        ("P_PCP", "Przyjęcie przesyłki na cle - przywóz", InTransit),
        ("P_PCWY", "Przekazanie przesyłki do cła - wywóz", InTransit),
        (
            "P_PDLUC",
            "Przekazanie do lokalnego urzędu pocztowo-celnego",
            InTransit,
        ),
        (
            "P_SCP",
            "Skierowanie przesyłki przez cło - przywóz",
            InTransit,
        ),
        ("P_DOAC", "Dostarczenie do Agencji Celnej", InTransit),
        ("P_POAC", "Odebranie z Agencji Celnej", InTransit),
        (
            "P_WPUCPP",
            "Zwolnienie przesyłki przez urząd celny (poczta przychodząca)",
            InTransit,
        ),
        (
            "P_WPUCWKP",
            "Zwolnienie przesyłki przez urząd celny w kraju przeznaczenia",
            InTransit,
        ),
        ("P_ZZC", "Zwrot przesyłki z cła", InTransit),
        ("P_ZWC", "Zatrzymanie przesyłki w cle", Exception),
        (
            "P_ZWMC",
            "Zatrzymanie przesyłki w magazynie celnym",
            Exception,
        ),
        (
            "P_ZPUCPP",
            "Zatrzymanie przesyłki przez urząd celny (poczta przychodząca)",
            Exception,
        ),
        (
            "P_ZPUCWKP",
            "Zatrzymanie przesyłki przez urząd celny w kraju przeznaczenia",
            Exception,
        ),
        ("P_NDAC", "Niedostarczenie do Agencji Celnej", Exception),
        ("P_NPAC", "Nieodebranie z Agencji Celnej", Exception),
        (
            "P_RUD",
            "Rejestracja przesyłki w urzędzie doręczenia",
            InTransit,
        ),
        (
            "P_DBR",
            "Rozpoczęcie procesu dystrybucji w placówce",
            InTransit,
        ),
        (
            "P_DBZ",
            "Zakończenie procesu dystrybucji w placówce",
            InTransit,
        ),
        (
            "P_WP2",
            "Pozytywna weryfikacja przesyłki proceduralnej w jedn. oddawczej",
            InTransit,
        ),
        (
            "P_WP3",
            "Pozytywna weryfikacja przesyłki proceduralnej w DOK",
            InTransit,
        ),
        (
            "P_WN2",
            "Negatywna weryfikacja przesyłki proceduralnej w jedn. oddawczej",
            Exception,
        ),
        (
            "P_WN3",
            "Negatywna weryfikacja przesyłki proceduralnej w DOK",
            Exception,
        ),
        (
            "P_NOWU",
            "Nieudane wydanie - do ponownego wydania",
            InTransit,
        ),
        (
            "P_ZPD",
            "Doręczenie na życzenie - do ponownego doręczenia",
            InTransit,
        ),
        (
            "P_ZPNA",
            "Doręczenie na życzenie - przesyłka dosłana",
            InTransit,
        ),
        (
            "P_KOD",
            "Wprowadzenie przesyłki do księgi oddawczej",
            OutForDelivery,
        ),
        ("P_KWD", "Wpis przesyłki do księgi wydanych", OutForDelivery),
        ("P_WD", "Wydanie przesyłki doręczycielowi", OutForDelivery),
        (
            "P_ZPWM",
            "Doręczenie na życzenie - wydanie z magazynu",
            OutForDelivery,
        ),
        (
            "P_PKP",
            "Nawiązano kontakt z adresatem przed doręczeniem",
            OutForDelivery,
        ),
        (
            "P_PKN",
            "Nieudana próba kontaktu z adresatem przed doręczeniem",
            FailedAttempt,
        ),
        ("P_ND", "Nieudane doręczenie", FailedAttempt),
        (
            "P_NDK",
            "Nieudane doręczenie - korekta rezultatu",
            FailedAttempt,
        ),
        (
            "P_NDPD",
            "Nieudane doręczenie - kolejna próba dziś",
            FailedAttempt,
        ),
        (
            "P_NDPJ",
            "Nieudane doręczenie - kolejna próba jutro",
            FailedAttempt,
        ),
        (
            "P_NDD",
            "Nieudane doręczenie - decyzja o dosłaniu",
            FailedAttempt,
        ),
        (
            "P_R",
            "Nieudane doręczenie - przechowywanie na życzenie",
            FailedAttempt,
        ),
        (
            "P_ZPNP",
            "Doręczenie na życzenie - nieudana próba doręczenia",
            FailedAttempt,
        ),
        ("P_ADR", "Awizo - do ponownego doręczenia", FailedAttempt),
        (
            "P_ADRK",
            "Awizo - do ponownego doręczenia - korekta",
            FailedAttempt,
        ),
        ("P_A", "Awizo przesyłki", AvailableForPickup),
        (
            "P_AK",
            "Awizo przesyłki - korekta rezultatu",
            AvailableForPickup,
        ),
        (
            "P_APP",
            "Awizo - po ponownej próbie doręczenia",
            AvailableForPickup,
        ),
        (
            "P_APPK",
            "Awizo - po ponownej próbie doręczenia - korekta",
            AvailableForPickup,
        ),
        ("P_PA", "Ponowne awizo", AvailableForPickup),
        (
            "P_DKAOD",
            "Dodanie do księgi awiz - oczekiwanie na doręczenie",
            AvailableForPickup,
        ),
        (
            "P_NDZAP",
            "Nieudane doręczenie - zatrzymana - adresat powiadomiony",
            AvailableForPickup,
        ),
        (
            "P_DDP",
            "Przesyłka dostarczona do Punktu",
            AvailableForPickup,
        ),
        (
            "P_POWE",
            "Powiadomienie email o oczekiwaniu przesyłki w urzędzie",
            AvailableForPickup,
        ),
        (
            "P_POWS",
            "Powiadomienie sms o oczekiwaniu przesyłki w urzędzie",
            AvailableForPickup,
        ),
        ("P_D", "Doręczenie", Delivered),
        (
            "P_DS",
            "Doręczenie przesyłki do skrzynki oddawczej adresata",
            Delivered,
        ),
        ("P_S", "Pozostawienie przesyłki w skrytce", Delivered),
        ("P_OWU", "Odebranie przesyłki w urzędzie", Delivered),
        (
            "P_OWUK",
            "Odebranie w urzędzie (korekta rezultatu)",
            Delivered,
        ),
        ("P_OWP", "Przesyłka odebrana w Punkcie", Delivered),
        (
            "P_WUPD",
            "Wydanie przesyłki uprawnionemu do odbioru",
            Delivered,
        ),
        (
            "P_POOE",
            "Powiadomienie email o odebraniu przesyłki",
            Delivered,
        ),
        (
            "P_POOS",
            "Powiadomienie sms o odebraniu przesyłki",
            Delivered,
        ),
        (
            "P_WEMAIL02",
            "Powiadomienie e-mail o doręczeniu przes. do skrzynki pocztowej",
            Delivered,
        ),
        (
            "P_WSMS02",
            "Powiadomienie SMS o doręczeniu przesyłki do skrzynki pocztowej",
            Delivered,
        ),
        ("P_WEMAIL", "Wysłanie e-mail dla przesyłki", InfoReceived),
        ("P_WSMS", "Wysłanie SMS dla przesyłki", InfoReceived),
        ("P_WFAX", "Wysłanie faksu dla przesyłki", InfoReceived),
        (
            "P_WVOICE",
            "Powiadomienie głosowe dla przesyłki",
            InfoReceived,
        ),
        ("P_ZKK", "Zmiana kanału komunikacji", InfoReceived),
        ("P_ZDD", "Zmiana danych doręczenia", InfoReceived),
        ("P_UKEPO", "Udostępnienie karty EPO", InfoReceived),
        (
            "P_ZPO",
            "Nadanie zwrotnego potwierdzenia odbioru",
            InfoReceived,
        ),
        (
            "P_NDZ",
            "Nieudane doręczenie - decyzja o zwrocie",
            Exception,
        ),
        (
            "P_NDZK",
            "Nieudane doręczenie - decyzja o zwrocie - korekta rezultatu",
            Exception,
        ),
        (
            "P_NDZKON",
            "Nieudane doręczenie - zatrzymana - do kontroli",
            Exception,
        ),
        ("P_NDB", "Nieudane doręczenie - zaginięcie", Exception),
        ("P_ZZPZ", "Przesyłka nieodebrana w punkcie", Exception),
        ("P_ZDUN", "Zwrot przesyłki do urzędu nadania", Exception),
        ("P_CZDKN", "Zwrot przesyłki do kraju nadania", Exception),
        (
            "P_POZE",
            "Powiadomienie email o zwrocie przesyłki",
            Exception,
        ),
        ("P_POZS", "Powiadomienie sms o zwrocie przesyłki", Exception),
        (
            "P_WDUNP",
            "Wejście przesyłki do urzędu niedoręczalnych przesyłek",
            Exception,
        ),
        (
            "P_SDUNPK",
            "Skierowanie do urzędu niedoręczalnych przesyłek (korekta rez.)",
            Exception,
        ),
        ("P_USZ", "Uszkodzenie przesyłki", Exception),
        ("P_ZAG", "Zaginięcie przesyłki", Exception),
        (
            "P_ZNISZ",
            "Przesyłka uległa zniszczeniu w wyniku pożaru",
            Exception,
        ),
    ]
};

/// An event code mapped to our status, `None` when the code is not one we know.
pub fn normalize(code: &str) -> Option<TrackingStatus> {
    let code = code.trim();
    EVENT_CODES
        .iter()
        .find(|(known, ..)| *known == code)
        .map(|(.., status)| *status)
}

/// The status of one event: its code when known. An unknown code is counted and logged once
/// ([`crate::normalize`]) and read from its Polish name (`nazwa`) only as far as is safe:
/// a name speaking of a return (`zwrot`, `zwróc`) is `EXCEPTION`, anything else
/// `INFO_RECEIVED`. Never a scan: a guessed "Doręczenie" must not confirm fulfilment and make
/// the order payable (R6).
pub fn normalize_event(code: &str, name: &str) -> TrackingStatus {
    if let Some(status) = normalize(code) {
        return status;
    }
    let lower = name.to_lowercase();
    let read_as = if lower.contains("zwrot") || lower.contains("zwróc") {
        TrackingStatus::Exception
    } else {
        TrackingStatus::InfoReceived
    };
    unknown_status(CODE, code, name, read_as)
}

/// The Sledzenie client.
#[derive(Debug, Clone)]
pub struct PocztaPolskaClient {
    config: CarrierConfig,
    http: reqwest::Client,
}

impl PocztaPolskaClient {
    pub fn new(config: CarrierConfig) -> Result<Self, TrackError> {
        let http = http::build_client(&config)?;
        Ok(Self { config, http })
    }

    async fn fetch(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        let body = request_body(
            self.config.username.as_deref().unwrap_or(DEFAULT_USERNAME),
            self.config.password.as_deref().unwrap_or(DEFAULT_PASSWORD),
            tracking_number,
        );
        let request = self
            .http
            .post(&self.config.base_url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", SOAP_ACTION)
            .body(body);
        let answer = http::send(request).await?;
        if !answer.status.is_success() {
            // SOAP 1.1 reports faults (a rejected UsernameToken among them) as HTTP 500. A 429
            // stays a rate limit whatever its body, so its Retry-After reaches the poller.
            if answer.status.as_u16() != 429
                && let Ok(Parsed {
                    fault: Some(fault), ..
                }) = answer.text().and_then(parse_xml)
            {
                return Err(fault.into_error(answer.status.as_u16()));
            }
            http::check_status(&answer)?;
        }
        let parsed = parse_xml(answer.text()?)?;
        if let Some(fault) = parsed.fault {
            return Err(fault.into_error(answer.status.as_u16()));
        }
        report(tracking_number, parsed)
    }
}

#[async_trait]
impl TrackingClient for PocztaPolskaClient {
    fn carrier(&self) -> &str {
        CODE
    }

    async fn track(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        self.fetch(tracking_number)
            .await
            .map_err(|e| e.redact(&self.config.secrets()))
    }
}

/// The SOAP envelope of `sprawdzPrzesylkePl`, every value escaped.
pub fn request_body(username: &str, password: &str, tracking_number: &str) -> String {
    use quick_xml::escape::escape;
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sled="{ns}">"#,
            r#"<soapenv:Header>"#,
            r#"<wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">"#,
            r#"<wsse:UsernameToken>"#,
            r#"<wsse:Username>{user}</wsse:Username>"#,
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{password}</wsse:Password>"#,
            r#"</wsse:UsernameToken>"#,
            r#"</wsse:Security>"#,
            r#"</soapenv:Header>"#,
            r#"<soapenv:Body><sled:sprawdzPrzesylkePl><sled:numer>{number}</sled:numer></sled:sprawdzPrzesylkePl></soapenv:Body>"#,
            r#"</soapenv:Envelope>"#
        ),
        ns = NAMESPACE,
        user = escape(username),
        password = escape(password),
        number = escape(tracking_number.trim()),
    )
}

/// What the parser keeps of an answer.
#[derive(Debug, Default)]
struct Parsed {
    status: Option<String>,
    number: Option<String>,
    events: Vec<RawEvent>,
    fault: Option<Fault>,
}

#[derive(Debug, Default)]
struct RawEvent {
    time: String,
    code: String,
    name: String,
    unit: String,
    reason: String,
    raw: String,
}

#[derive(Debug, Default)]
struct Fault {
    code: String,
    text: String,
}

impl Fault {
    fn into_error(self, http_status: u16) -> TrackError {
        let all = format!("{} {}", self.code, self.text).to_lowercase();
        if all.contains("failedauthentication")
            || all.contains("authenticat")
            || all.contains("security")
        {
            TrackError::Unauthorized
        } else {
            TrackError::Carrier {
                status: http_status,
                message: format!(
                    "SOAP fault {}: {}",
                    self.code,
                    excerpt(self.text.as_bytes())
                ),
            }
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> TrackError {
    TrackError::Malformed(format!("Sledzenie XML: {e}"))
}

/// The 2xx answer parser alone (SOAP fault included), for the fuzz targets in `fuzz/`; not
/// part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, xml: &str) -> Result<TrackReport, TrackError> {
    let parsed = parse_xml(xml)?;
    if let Some(fault) = parsed.fault {
        return Err(fault.into_error(200));
    }
    report(requested, parsed)
}

/// Walks the answer once, by local names, keeping the return status, the events (with their
/// XML text as received) and any SOAP fault.
fn parse_xml(xml: &str) -> Result<Parsed, TrackError> {
    let mut reader = Reader::from_str(xml);
    let mut parsed = Parsed::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut current: Option<(usize, RawEvent)> = None;
    let mut saw_envelope = false;

    loop {
        let event = reader.read_event().map_err(malformed)?;
        let position = usize::try_from(reader.buffer_position()).map_err(malformed)?;
        match event {
            Event::Start(e) => {
                let name = local(e.local_name().as_ref())?;
                if name == "Envelope" {
                    saw_envelope = true;
                }
                if name == "zdarzenie" && current.is_none() {
                    // The start tag is `<` + its content + `>`, ending at `position`.
                    let start = position.saturating_sub(e.len() + 2);
                    current = Some((start, RawEvent::default()));
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = local(e.local_name().as_ref())?;
                path.push(name);
                text.clear();
                assign(&path, "", &mut parsed, &mut current);
                path.pop();
            }
            Event::End(e) => {
                let name = local(e.local_name().as_ref())?;
                if path.last() != Some(&name) {
                    return Err(malformed(format!("unexpected </{name}>")));
                }
                assign(&path, text.trim(), &mut parsed, &mut current);
                text.clear();
                if name == "zdarzenie"
                    && let Some((start, mut event)) = current.take()
                {
                    event.raw = xml.get(start..position).unwrap_or_default().to_owned();
                    parsed.events.push(event);
                }
                path.pop();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(malformed)?),
            Event::CData(t) => text.push_str(&t.decode().map_err(malformed)?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(malformed)?;
                    text.push(match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(malformed(format!("unknown entity &{other};"))),
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_envelope || !path.is_empty() {
        return Err(malformed("not a complete SOAP envelope"));
    }
    Ok(parsed)
}

fn local(name: &[u8]) -> Result<String, TrackError> {
    std::str::from_utf8(name)
        .map(str::to_owned)
        .map_err(malformed)
}

/// Stores the text of the element that just closed, by where it sits.
fn assign(
    path: &[String],
    value: &str,
    parsed: &mut Parsed,
    current: &mut Option<(usize, RawEvent)>,
) {
    let tail = |n: usize| -> Vec<&str> {
        path.iter()
            .rev()
            .take(n)
            .rev()
            .map(String::as_str)
            .collect()
    };
    if let Some((_, event)) = current.as_mut() {
        match tail(3).as_slice() {
            [_, "zdarzenie", "czas"] => event.time = value.to_owned(),
            [_, "zdarzenie", "kod"] => event.code = value.to_owned(),
            [_, "zdarzenie", "nazwa"] => event.name = value.to_owned(),
            ["zdarzenie", "jednostka", "nazwa"] => event.unit = value.to_owned(),
            ["zdarzenie", "przyczyna", "nazwa"] => event.reason = value.to_owned(),
            _ => {}
        }
        return;
    }
    match tail(2).as_slice() {
        ["return", "status"] => parsed.status = Some(value.to_owned()),
        ["return", "numer"] => parsed.number = Some(value.to_owned()),
        ["Fault", "faultcode"] => {
            parsed.fault.get_or_insert_with(Fault::default).code = value.into()
        }
        ["Fault", "faultstring"] => {
            parsed.fault.get_or_insert_with(Fault::default).text = value.into();
        }
        _ => {}
    }
}

fn report(requested: &str, parsed: Parsed) -> Result<TrackReport, TrackError> {
    let status = parsed
        .status
        .ok_or_else(|| malformed("no sprawdzPrzesylkeResponse/return/status"))?;
    match status.as_str() {
        "0" | "2" => {}
        // Another parcel shares the number: the service still describes one of them.
        "1" => tracing::warn!("Poczta Polska: several parcels share this tracking number"),
        // -1: no such parcel; -2: the number is invalid, which the service will never know.
        "-1" | "-2" => return Err(TrackError::NotFound),
        other => {
            return Err(TrackError::Carrier {
                status: 200,
                message: format!("Sledzenie status {other}"),
            });
        }
    }
    let events = parsed
        .events
        .into_iter()
        .map(|e| {
            let local = parse_local_time(&e.time)?;
            let text = if e.reason.is_empty() {
                e.name.clone()
            } else {
                format!("{} ({})", e.name, e.reason)
            };
            Ok(CarrierEvent {
                event_id: None,
                occurred_at: warsaw_to_utc(local),
                status: normalize_event(&e.code, &e.name),
                carrier_status_code: e.code,
                carrier_status_text: text,
                location: e.unit,
                raw_payload: e.raw,
            })
        })
        .collect::<Result<Vec<_>, TrackError>>()?;
    Ok(TrackReport {
        tracking_number: parsed
            .number
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| requested.to_owned()),
        events,
    })
}

fn parse_local_time(value: &str) -> Result<NaiveDateTime, TrackError> {
    ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .ok_or_else(|| malformed(format!("bad czas {value:?}")))
}

/// The last Sunday of a month.
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let last_day = NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()?;
    let back = last_day.weekday().num_days_from_sunday();
    Some(last_day - Duration::days(i64::from(back)))
}

/// EU summer time (Directive 2000/84/EC): from 01:00 UTC on the last Sunday of March to 01:00
/// UTC on the last Sunday of October.
pub fn is_eu_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let bound = |month| {
        last_sunday(year, month)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    match (bound(3), bound(10)) {
        (Some(start), Some(end)) => at >= start && at < end,
        _ => false,
    }
}

/// Polish wall-clock time (CET, UTC+1; CEST, UTC+2 in summer) to UTC.
///
/// In the October hour that happens twice the first (summer) one is taken; a time in the
/// skipped March hour is read as winter time, one hour later in UTC than it would be.
pub fn warsaw_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let summer = Utc.from_utc_datetime(&(local - Duration::hours(2)));
    if is_eu_summer_time(summer) {
        summer
    } else {
        Utc.from_utc_datetime(&(local - Duration::hours(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn is_sunday(d: NaiveDate) -> bool {
        d.weekday() == chrono::Weekday::Sun
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn codes_of_the_public_test_answer() {
        use TrackingStatus::*;
        // Every code the `testp0` answer carries, with what its name says.
        let cases = [
            ("P_NAD", "Nadanie", InTransit),
            ("P_WZL", "Wysłanie z ładunkiem", InTransit),
            ("P_PZL", "Przyjęcie z ładunkiem", InTransit),
            // Handed to the postman for delivery: out for delivery, not merely moving.
            ("P_WD", "Wydanie doręczycielowi", OutForDelivery),
            ("P_A", "Awizo", AvailableForPickup),
            ("P_D", "Doręczenie", Delivered),
        ];
        for (code, name, status) in cases {
            assert_eq!(normalize(code), Some(status), "{code}");
            assert_eq!(normalize_event(code, name), status, "{code}");
        }
    }

    #[test]
    fn every_known_code_has_a_reading_by_its_kind() {
        use TrackingStatus::*;
        for (code, name, status) in EVENT_CODES {
            assert_eq!(normalize(code), Some(status), "{code}");
            let lower = name.to_lowercase();
            // Spot checks of the table against the names: a return is never delivered, a
            // failed delivery never delivered, a notification never a scan.
            if lower.contains("zwrot przesyłki do") || lower.contains("o zwrocie") {
                assert_eq!(status, Exception, "{code} {name}");
            }
            if lower.starts_with("nieudane doręczenie") {
                assert_ne!(status, Delivered, "{code} {name}");
            }
            if lower.starts_with("wysłanie e-mail") || lower.starts_with("wysłanie sms") {
                assert!(!status.is_scan(), "{code} {name}");
            }
        }
        let mut codes: Vec<&str> = EVENT_CODES.iter().map(|(c, ..)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), EVENT_CODES.len(), "a code listed twice");
        assert_eq!(normalize("P_XYZ"), None);
    }

    #[test]
    fn unknown_codes_are_read_safely_from_their_name() {
        use TrackingStatus::*;
        let cases = [
            ("Zwrot do nadawcy", Exception),
            ("Przesyłka zwrócona", Exception),
            ("Doręczenie", InfoReceived),
            ("Awizo - przesyłka czeka na odbiór", InfoReceived),
            ("Wysłanie z urzędu wymiany", InfoReceived),
        ];
        for (name, status) in cases {
            assert_eq!(normalize_event("P_NEW", name), status, "{name}");
        }
    }

    #[test]
    fn last_sundays() {
        assert_eq!(last_sunday(2024, 3), NaiveDate::from_ymd_opt(2024, 3, 31));
        assert_eq!(last_sunday(2024, 10), NaiveDate::from_ymd_opt(2024, 10, 27));
        assert_eq!(last_sunday(2025, 3), NaiveDate::from_ymd_opt(2025, 3, 30));
        assert_eq!(last_sunday(2025, 10), NaiveDate::from_ymd_opt(2025, 10, 26));
        assert_eq!(last_sunday(2020, 12), NaiveDate::from_ymd_opt(2020, 12, 27));
        for year in 2000..2040 {
            for month in [3, 10] {
                let d = last_sunday(year, month).unwrap();
                assert!(is_sunday(d) && d.day() > 24, "{d}");
            }
        }
    }

    #[test]
    fn summer_time_bounds() {
        assert!(!is_eu_summer_time(utc("2024-03-31T00:59:59Z")));
        assert!(is_eu_summer_time(utc("2024-03-31T01:00:00Z")));
        assert!(is_eu_summer_time(utc("2024-10-27T00:59:59Z")));
        assert!(!is_eu_summer_time(utc("2024-10-27T01:00:00Z")));
        assert!(!is_eu_summer_time(utc("2024-01-15T12:00:00Z")));
        assert!(is_eu_summer_time(utc("2024-07-15T12:00:00Z")));
    }

    #[test]
    fn warsaw_local_to_utc() {
        let cases = [
            ("2020-01-02 10:15", "2020-01-02T09:15:00Z"), // CET
            ("2020-07-02 10:15", "2020-07-02T08:15:00Z"), // CEST
            ("2024-03-31 01:59", "2024-03-31T00:59:00Z"), // last minute of winter time
            ("2024-03-31 03:00", "2024-03-31T01:00:00Z"), // first minute of summer time
            ("2024-03-31 02:30", "2024-03-31T01:30:00Z"), // skipped hour: read as CET
            ("2024-10-27 01:30", "2024-10-26T23:30:00Z"),
            ("2024-10-27 02:30", "2024-10-27T00:30:00Z"), // twice: the summer one
            ("2024-10-27 03:00", "2024-10-27T02:00:00Z"), // winter time again
            ("2024-12-31 23:30", "2024-12-31T22:30:00Z"),
        ];
        for (wall, expected) in cases {
            assert_eq!(warsaw_to_utc(local(wall)), utc(expected), "{wall}");
        }
    }

    #[test]
    fn request_escapes_every_value() {
        let body = request_body("u<s", "p&w\"", " RR<1>&2 ");
        assert!(
            body.contains("<wsse:Username>u&lt;s</wsse:Username>"),
            "{body}"
        );
        assert!(body.contains(">p&amp;w&quot;</wsse:Password>"), "{body}");
        assert!(
            body.contains("<sled:numer>RR&lt;1&gt;&amp;2</sled:numer>"),
            "{body}"
        );
    }

    #[test]
    fn entities_and_raw_events() {
        let xml = r#"<s:Envelope xmlns:s="x"><s:Body><ns:sprawdzPrzesylkeResponse xmlns:ns="y"><ns:return xmlns:ax="z">
<ax:danePrzesylki><ax:zdarzenia>
<ax:zdarzenie><ax:czas>2020-01-02 10:15</ax:czas><ax:jednostka><ax:nazwa>UP A &amp; B&#32;1</ax:nazwa></ax:jednostka><ax:kod>P_NAD</ax:kod><ax:konczace>false</ax:konczace><ax:nazwa>Nadanie</ax:nazwa><ax:przyczyna/></ax:zdarzenie>
</ax:zdarzenia></ax:danePrzesylki><ax:numer>RR1</ax:numer><ax:status>0</ax:status></ns:return></ns:sprawdzPrzesylkeResponse></s:Body></s:Envelope>"#;
        let parsed = parse_xml(xml).unwrap();
        assert_eq!(parsed.status.as_deref(), Some("0"));
        assert_eq!(parsed.number.as_deref(), Some("RR1"));
        let e = &parsed.events[0];
        assert_eq!(e.unit, "UP A & B 1");
        assert_eq!(e.name, "Nadanie");
        assert!(e.raw.starts_with("<ax:zdarzenie><ax:czas>"), "{}", e.raw);
        assert!(e.raw.ends_with("</ax:zdarzenie>"), "{}", e.raw);
        assert!(parse_xml("<a><b></a>").is_err());
        assert!(parse_xml("{}").is_err());
    }
}
