//! The `przesylki` element of `addShipment`, in named steps: the EN type of the shipment, the
//! checks EN would fail for sure (each a field error), then its attributes and child elements.

use super::{LETTER_SIZES, PARCEL_SIZES, PocztaPolskaDispatcher};
use crate::dispatch::soap::esc;
use crate::dispatch::{
    Contact, DispatchError, FieldError, ShipmentRequest, ShipmentType, national_phone,
};

/// Cash on delivery as EN takes it: the amount in grosze and the 26-digit NRB.
type Cod = (u64, String);

impl PocztaPolskaDispatcher {
    /// The `przesylki` element; what EN would reject for sure is rejected here.
    pub(super) fn shipment_element(
        &self,
        req: &ShipmentRequest,
        guid: &str,
    ) -> Result<String, DispatchError> {
        let (xsi_type, sizes) = service(req)?;
        let mut problems = Vec::new();
        let size = self.size(req, sizes, &mut problems);
        check_weight(req, &mut problems);
        check_country(req, &mut problems);
        let cod = self.cod(req, &mut problems);
        if !problems.is_empty() {
            return Err(DispatchError::Validation(problems));
        }
        let size = size.unwrap_or_default();
        let attrs = attributes(req, xsi_type, guid, &size);
        let children = children(req, cod, &size);
        Ok(format!("<przesylki{attrs}>{children}</przesylki>"))
    }

    /// The size asked for, else the account's default for the shipment type, upper-cased.
    fn size(
        &self,
        req: &ShipmentRequest,
        sizes: &[&str],
        problems: &mut Vec<FieldError>,
    ) -> Option<String> {
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
        size
    }

    /// Cash on delivery, in PLN, to the request's NRB or else the account's.
    fn cod(&self, req: &ShipmentRequest, problems: &mut Vec<FieldError>) -> Option<Cod> {
        let cod = req.cod.as_ref()?;
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
}

/// The EN type of the shipment and its sizes; what EN cannot send at all is refused.
fn service(
    req: &ShipmentRequest,
) -> Result<(&'static str, &'static [&'static str]), DispatchError> {
    let service = match req.shipment_type {
        ShipmentType::UnregisteredLetter => {
            return Err(DispatchError::Refused(
                "Poczta Polska's Elektroniczny Nadawca cannot create dispatch orders for unregistered letters (list zwykły): they have no tracking number to attach to the order".into(),
            ));
        }
        ShipmentType::Parcel => ("en:pocztex2021KurierType", &PARCEL_SIZES[..]),
        ShipmentType::RegisteredLetter => ("en:przesylkaPoleconaKrajowaType", &LETTER_SIZES[..]),
    };
    if req.cod.is_some() && req.shipment_type == ShipmentType::RegisteredLetter {
        return Err(DispatchError::Refused(
            "a registered letter cannot be sent cash on delivery; send a parcel".into(),
        ));
    }
    Ok(service)
}

fn check_weight(req: &ShipmentRequest, problems: &mut Vec<FieldError>) {
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
}

fn check_country(req: &ShipmentRequest, problems: &mut Vec<FieldError>) {
    let country = req.receiver.country_code.trim();
    if !(country.is_empty() || country.eq_ignore_ascii_case("PL")) {
        // Pocztex 2021 Kurier and the domestic registered letter (przesylkaPoleconaKrajowa)
        // are domestic services; EN's `kraj` is a country name, not a code.
        problems.push(FieldError::new(
            "receiver.country_code",
            "Poczta Polska's Pocztex and domestic registered letters deliver in Poland only",
        ));
    }
}

/// Attributes of przesylkaType (`guid`, `opis`), then, for the registered letter,
/// przesylkaPoleconaKrajowaType's own attributes (`kategoria`, `format`, `masa`).
fn attributes(req: &ShipmentRequest, xsi_type: &str, guid: &str, size: &str) -> String {
    let mut attrs = format!(
        r#" xsi:type="{xsi_type}" guid="{guid}" opis="{opis}""#,
        opis = esc(req.reference.trim()),
    );
    if req.shipment_type == ShipmentType::RegisteredLetter {
        attrs.push_str(&format!(
            r#" kategoria="EKONOMICZNA" format="{}""#,
            esc(size)
        ));
        if let Some(grams) = req.parcel.weight_grams {
            attrs.push_str(&format!(r#" masa="{grams}""#));
        }
    }
    attrs
}

/// The child elements, in the order the schema's sequences give them:
/// przesylkaRejestrowanaType (`adres`), then pocztex2021Type (`pobranie`, ..., `masa`, ...,
/// `format`). Unqualified: the schema has no elementFormDefault.
fn children(req: &ShipmentRequest, cod: Option<Cod>, size: &str) -> String {
    let mut children = adres(&req.receiver);
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
        children.push_str(&format!("<format>{}</format>", esc(size)));
    }
    children
}

/// adresType: everything in attributes. `kraj` is left to its default ("Polska"): both
/// services are domestic and a foreign receiver was refused before.
fn adres(r: &Contact) -> String {
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
    adres
}

/// The digits of an NRB (`PL61 1090 1014 0000 0712 1981 2874` → 26 digits).
fn nrb_digits(nrb: &str) -> String {
    nrb.chars().filter(char::is_ascii_digit).collect()
}
