//! The Sledzenie event codes and how each reads as our status (R21).

use crate::TrackingStatus;
use crate::normalize::unknown_status;

use super::CODE;

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
// One code a line, as a table reads: rustfmt would break the long names over four lines
// each and make the table hard to scan (and look like repeated code).
#[rustfmt::skip]
pub const EVENT_CODES: [(&str, &str, TrackingStatus); 97] = {
    use TrackingStatus::*;
    [
        ("P_REJ", "Rejestracja przesyłki", InfoReceived),
        ("P_REJ_KN", "Rejestracja przesyłki z KN", InfoReceived),
        ("P_BRAKN", "Brak nadania przesyłki zapowiedzianej w KN", Exception),
        ("P_NAD", "Nadanie", InTransit),
        ("P_PWP", "Przesyłka przyjęta w punkcie", InTransit),
        ("P_Z", "Załadunek przesyłki", InTransit),
        ("P_WZL", "Wysłanie przesyłki z ładunkiem", InTransit),
        ("P_PZL", "Przyjęcie przesyłki z ładunkiem", InTransit),
        ("P_WYPL", "Wysłanie przesyłki z Polski", InTransit),
        ("P_WEPL", "Przyjęcie przesyłki w Polsce", InTransit),
        ("P_WYOC", "Wysłanie przesyłki z kraju nadania", InTransit),
        ("P_WEOC", "Przyjęcie przesyłki w kraju przeznaczenia", InTransit),
        ("P_OWUWPP", "Odebranie przesyłki w urzędzie wymiany (poczta przychodząca)", InTransit),
        ("P_OWUWPW", "Odebranie przesyłki w urzędzie wymiany (poczta wychodząca)", InTransit),
        ("P_PCP", "Przyjęcie przesyłki na cle - przywóz", InTransit),
        ("P_PCWY", "Przekazanie przesyłki do cła - wywóz", InTransit),
        ("P_PDLUC", "Przekazanie do lokalnego urzędu pocztowo-celnego", InTransit),
        ("P_SCP", "Skierowanie przesyłki przez cło - przywóz", InTransit),
        ("P_DOAC", "Dostarczenie do Agencji Celnej", InTransit),
        ("P_POAC", "Odebranie z Agencji Celnej", InTransit),
        ("P_WPUCPP", "Zwolnienie przesyłki przez urząd celny (poczta przychodząca)", InTransit),
        ("P_WPUCWKP", "Zwolnienie przesyłki przez urząd celny w kraju przeznaczenia", InTransit),
        ("P_ZZC", "Zwrot przesyłki z cła", InTransit),
        ("P_ZWC", "Zatrzymanie przesyłki w cle", Exception),
        ("P_ZWMC", "Zatrzymanie przesyłki w magazynie celnym", Exception),
        ("P_ZPUCPP", "Zatrzymanie przesyłki przez urząd celny (poczta przychodząca)", Exception),
        ("P_ZPUCWKP", "Zatrzymanie przesyłki przez urząd celny w kraju przeznaczenia", Exception),
        ("P_NDAC", "Niedostarczenie do Agencji Celnej", Exception),
        ("P_NPAC", "Nieodebranie z Agencji Celnej", Exception),
        ("P_RUD", "Rejestracja przesyłki w urzędzie doręczenia", InTransit),
        ("P_DBR", "Rozpoczęcie procesu dystrybucji w placówce", InTransit),
        ("P_DBZ", "Zakończenie procesu dystrybucji w placówce", InTransit),
        ("P_WP2", "Pozytywna weryfikacja przesyłki proceduralnej w jedn. oddawczej", InTransit),
        ("P_WP3", "Pozytywna weryfikacja przesyłki proceduralnej w DOK", InTransit),
        ("P_WN2", "Negatywna weryfikacja przesyłki proceduralnej w jedn. oddawczej", Exception),
        ("P_WN3", "Negatywna weryfikacja przesyłki proceduralnej w DOK", Exception),
        ("P_NOWU", "Nieudane wydanie - do ponownego wydania", InTransit),
        ("P_ZPD", "Doręczenie na życzenie - do ponownego doręczenia", InTransit),
        ("P_ZPNA", "Doręczenie na życzenie - przesyłka dosłana", InTransit),
        ("P_KOD", "Wprowadzenie przesyłki do księgi oddawczej", OutForDelivery),
        ("P_KWD", "Wpis przesyłki do księgi wydanych", OutForDelivery),
        ("P_WD", "Wydanie przesyłki doręczycielowi", OutForDelivery),
        ("P_ZPWM", "Doręczenie na życzenie - wydanie z magazynu", OutForDelivery),
        ("P_PKP", "Nawiązano kontakt z adresatem przed doręczeniem", OutForDelivery),
        ("P_PKN", "Nieudana próba kontaktu z adresatem przed doręczeniem", FailedAttempt),
        ("P_ND", "Nieudane doręczenie", FailedAttempt),
        ("P_NDK", "Nieudane doręczenie - korekta rezultatu", FailedAttempt),
        ("P_NDPD", "Nieudane doręczenie - kolejna próba dziś", FailedAttempt),
        ("P_NDPJ", "Nieudane doręczenie - kolejna próba jutro", FailedAttempt),
        ("P_NDD", "Nieudane doręczenie - decyzja o dosłaniu", FailedAttempt),
        ("P_R", "Nieudane doręczenie - przechowywanie na życzenie", FailedAttempt),
        ("P_ZPNP", "Doręczenie na życzenie - nieudana próba doręczenia", FailedAttempt),
        ("P_ADR", "Awizo - do ponownego doręczenia", FailedAttempt),
        ("P_ADRK", "Awizo - do ponownego doręczenia - korekta", FailedAttempt),
        ("P_A", "Awizo przesyłki", AvailableForPickup),
        ("P_AK", "Awizo przesyłki - korekta rezultatu", AvailableForPickup),
        ("P_APP", "Awizo - po ponownej próbie doręczenia", AvailableForPickup),
        ("P_APPK", "Awizo - po ponownej próbie doręczenia - korekta", AvailableForPickup),
        ("P_PA", "Ponowne awizo", AvailableForPickup),
        ("P_DKAOD", "Dodanie do księgi awiz - oczekiwanie na doręczenie", AvailableForPickup),
        ("P_NDZAP", "Nieudane doręczenie - zatrzymana - adresat powiadomiony", AvailableForPickup),
        ("P_DDP", "Przesyłka dostarczona do Punktu", AvailableForPickup),
        ("P_POWE", "Powiadomienie email o oczekiwaniu przesyłki w urzędzie", AvailableForPickup),
        ("P_POWS", "Powiadomienie sms o oczekiwaniu przesyłki w urzędzie", AvailableForPickup),
        ("P_D", "Doręczenie", Delivered),
        ("P_DS", "Doręczenie przesyłki do skrzynki oddawczej adresata", Delivered),
        ("P_S", "Pozostawienie przesyłki w skrytce", Delivered),
        ("P_OWU", "Odebranie przesyłki w urzędzie", Delivered),
        ("P_OWUK", "Odebranie w urzędzie (korekta rezultatu)", Delivered),
        ("P_OWP", "Przesyłka odebrana w Punkcie", Delivered),
        ("P_WUPD", "Wydanie przesyłki uprawnionemu do odbioru", Delivered),
        ("P_POOE", "Powiadomienie email o odebraniu przesyłki", Delivered),
        ("P_POOS", "Powiadomienie sms o odebraniu przesyłki", Delivered),
        ("P_WEMAIL02", "Powiadomienie e-mail o doręczeniu przes. do skrzynki pocztowej", Delivered),
        ("P_WSMS02", "Powiadomienie SMS o doręczeniu przesyłki do skrzynki pocztowej", Delivered),
        ("P_WEMAIL", "Wysłanie e-mail dla przesyłki", InfoReceived),
        ("P_WSMS", "Wysłanie SMS dla przesyłki", InfoReceived),
        ("P_WFAX", "Wysłanie faksu dla przesyłki", InfoReceived),
        ("P_WVOICE", "Powiadomienie głosowe dla przesyłki", InfoReceived),
        ("P_ZKK", "Zmiana kanału komunikacji", InfoReceived),
        ("P_ZDD", "Zmiana danych doręczenia", InfoReceived),
        ("P_UKEPO", "Udostępnienie karty EPO", InfoReceived),
        ("P_ZPO", "Nadanie zwrotnego potwierdzenia odbioru", InfoReceived),
        ("P_NDZ", "Nieudane doręczenie - decyzja o zwrocie", Exception),
        ("P_NDZK", "Nieudane doręczenie - decyzja o zwrocie - korekta rezultatu", Exception),
        ("P_NDZKON", "Nieudane doręczenie - zatrzymana - do kontroli", Exception),
        ("P_NDB", "Nieudane doręczenie - zaginięcie", Exception),
        ("P_ZZPZ", "Przesyłka nieodebrana w punkcie", Exception),
        ("P_ZDUN", "Zwrot przesyłki do urzędu nadania", Exception),
        ("P_CZDKN", "Zwrot przesyłki do kraju nadania", Exception),
        ("P_POZE", "Powiadomienie email o zwrocie przesyłki", Exception),
        ("P_POZS", "Powiadomienie sms o zwrocie przesyłki", Exception),
        ("P_WDUNP", "Wejście przesyłki do urzędu niedoręczalnych przesyłek", Exception),
        ("P_SDUNPK", "Skierowanie do urzędu niedoręczalnych przesyłek (korekta rez.)", Exception),
        ("P_USZ", "Uszkodzenie przesyłki", Exception),
        ("P_ZAG", "Zaginięcie przesyłki", Exception),
        ("P_ZNISZ", "Przesyłka uległa zniszczeniu w wyniku pożaru", Exception),
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
