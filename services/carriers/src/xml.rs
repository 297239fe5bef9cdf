//! The XML pieces every XML carrier shares (Poczta Polska's two SOAP services, Paczka w Ruchu,
//! WishPost): the SOAP 1.1 envelope we send, and the entity references quick-xml leaves to its
//! caller. Kept in one place so the wire format of an envelope cannot drift between clients.

use quick_xml::events::{BytesRef, Event};

/// The SOAP 1.1 envelope namespace.
pub(crate) const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A SOAP 1.1 envelope. `namespaces` are extra `xmlns:...="..."` declarations; `header` the
/// content of `soapenv:Header` (empty: an empty `<soapenv:Header/>`); `body` is written as is,
/// so its values must already be escaped.
pub(crate) fn soap_envelope(namespaces: &str, header: &str, body: &str) -> String {
    let ns = if namespaces.is_empty() {
        String::new()
    } else {
        format!(" {namespaces}")
    };
    let header = if header.is_empty() {
        "<soapenv:Header/>".to_owned()
    } else {
        format!("<soapenv:Header>{header}</soapenv:Header>")
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="{env}"{ns}>"#,
            r#"{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#
        ),
        env = SOAP_ENVELOPE_NS,
        ns = ns,
        header = header,
        body = body,
    )
}

/// The character an entity reference stands for: a character reference (`&#32;`) or one of
/// XML's five predefined entities. Anything else (a DTD-declared entity) is refused, as none
/// of our carriers declares one. The error is a message for the caller's "malformed" error.
pub(crate) fn entity_char(r: &BytesRef<'_>) -> Result<char, String> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c);
    }
    let name = r.decode().map_err(|e| e.to_string())?;
    Ok(match name.as_ref() {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        other => return Err(format!("unknown entity &{other};")),
    })
}

/// Appends the character data of a text, CDATA or entity-reference event to `text`; any other
/// event is left to the caller. The error is a message for the caller's "malformed" error.
pub(crate) fn push_text(event: &Event<'_>, text: &mut String) -> Result<(), String> {
    match event {
        Event::Text(t) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
        Event::CData(t) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
        Event::GeneralRef(r) => text.push(entity_char(r)?),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_with_and_without_header() {
        assert_eq!(
            soap_envelope("", "", "<a/>"),
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/><soapenv:Body><a/></soapenv:Body></soapenv:Envelope>"#
        );
        assert!(soap_envelope(r#"xmlns:x="y""#, "<h/>", "").contains(
            r#"envelope/" xmlns:x="y"><soapenv:Header><h/></soapenv:Header><soapenv:Body>"#
        ));
    }
}
