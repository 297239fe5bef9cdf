use super::en_error::field_of;
use super::*;
use crate::dispatch::{CashOnDelivery, Contact, ShipmentType};
use std::time::Duration;

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
