//! The `error` elements of EN answers, and the field of our request each one is about.

use super::soap::Element;
use crate::dispatch::{DispatchError, FieldError, field_from_message};
use crate::error::excerpt;

/// One `error` of an EN answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnError {
    pub(super) number: String,
    pub(super) desc: String,
}

impl EnError {
    pub(super) fn to_field_error(&self) -> FieldError {
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
    pub(super) fn is_absence(&self) -> bool {
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

    pub(super) fn into_carrier_error(self) -> DispatchError {
        DispatchError::Carrier {
            code: self.number,
            message: excerpt(self.desc.as_bytes()),
        }
    }
}

pub(super) fn errors(parent: &Element) -> Vec<EnError> {
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
pub(super) fn attr_or_child<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attr(name)
        .or_else(|| element.child_text(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub(super) fn first_error(parent: &Element) -> Option<EnError> {
    errors(parent).into_iter().next()
}

/// The field of our request an EN error is about, from the attribute names and Polish words in
/// its `errorDesc`.
pub(super) fn field_of(desc: &str) -> String {
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
