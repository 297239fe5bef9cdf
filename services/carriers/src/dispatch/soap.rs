//! The little SOAP the two SOAP carriers need: a SOAP 1.1 envelope around an escaped body, and
//! a small element tree read by local names (namespace prefixes vary between answers, .NET
//! DataSets nest their rows in a diffgram, and ORLEN Paczka answers SOAP 1.2 clients in a
//! SOAP 1.2 envelope), with the SOAP 1.1 or 1.2 fault when there is one.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::DispatchError;
use crate::xml::{entity_char, soap_envelope};

/// Escapes text for an element or an attribute value.
pub(crate) fn esc(value: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(value)
}

/// A SOAP 1.1 envelope with an empty header; `namespaces` are extra `xmlns:...="..."`
/// declarations for the body.
pub(crate) fn envelope(namespaces: &str, body: &str) -> String {
    soap_envelope(namespaces, "", body)
}

/// One element: its local name, attributes (local names), text, children.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// This element or its first descendant with that name (document order).
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every element with that name, this one included, in document order.
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        self.collect(name, &mut out);
        out
    }

    fn collect<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        if self.name == name {
            out.push(self);
        }
        for child in &self.children {
            child.collect(name, out);
        }
    }

    /// The trimmed text of the first direct child with that name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.text.trim())
    }

    /// The trimmed text of the first descendant with that name.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|e| e.text.trim())
    }
}

/// Whether a carrier's message is about who we are (a rejected login, password or key), in
/// English or Polish.
pub(crate) fn mentions_authentication(message: &str) -> bool {
    let all = message.to_lowercase();
    [
        "authenticat",
        "unauthori",
        "credential",
        "autoryz",
        "uwierzyteln",
        "login",
        "hasło",
        "partnerid",
        "partnerkey",
    ]
    .iter()
    .any(|w| all.contains(w))
}

/// A SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub code: String,
    pub message: String,
}

impl Fault {
    /// Whether the fault is about who we are (a rejected login or key).
    pub fn is_authentication(&self) -> bool {
        mentions_authentication(&format!("{} {}", self.code, self.message))
    }

    /// Whether the fault blames the server (SOAP 1.1 `soap:Server`, SOAP 1.2 `soap:Receiver`),
    /// not our request.
    pub fn is_server(&self) -> bool {
        let code = self.code.to_lowercase();
        code.ends_with("server") || code.ends_with("receiver")
    }
}

/// The fault of an answer, if it is one.
pub(crate) fn fault(doc: &Element) -> Option<Fault> {
    let fault = doc.find("Fault")?;
    Some(Fault {
        code: fault
            .text_of("faultcode")
            .or_else(|| fault.find("Code").and_then(|c| c.text_of("Value")))
            .unwrap_or_default()
            .to_owned(),
        message: fault
            .text_of("faultstring")
            .or_else(|| fault.find("Reason").and_then(|r| r.text_of("Text")))
            .unwrap_or_default()
            .to_owned(),
    })
}

fn malformed(e: impl std::fmt::Display) -> DispatchError {
    DispatchError::Malformed(format!("SOAP XML: {e}"))
}

fn start(e: &BytesStart<'_>) -> Result<Element, DispatchError> {
    let name = std::str::from_utf8(e.local_name().as_ref())
        .map_err(malformed)?
        .to_owned();
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = std::str::from_utf8(attr.key.local_name().as_ref())
            .map_err(malformed)?
            .to_owned();
        if attr.key.as_ref().starts_with(b"xmlns") {
            continue;
        }
        let value = attr.unescape_value().map_err(malformed)?.into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

/// Parses a whole document; the returned element is a nameless root holding the document
/// element. Anything that is not well-formed, or has no `Envelope`, is malformed.
pub(crate) fn parse(xml: &str) -> Result<Element, DispatchError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(e) => stack.push(start(&e)?),
            Event::Empty(e) => {
                let element = start(&e)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(element);
                }
            }
            Event::End(e) => {
                let name = std::str::from_utf8(e.local_name().as_ref())
                    .map_err(malformed)?
                    .to_owned();
                if stack.len() < 2 {
                    return Err(malformed(format!("unexpected </{name}>")));
                }
                let element = stack.pop().unwrap_or_default();
                if element.name != name {
                    return Err(malformed(format!("unexpected </{name}>")));
                }
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(element);
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(malformed)?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                let text = t.decode().map_err(malformed)?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let c = entity_char(&r).map_err(malformed)?;
                if let Some(current) = stack.last_mut() {
                    current.text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(malformed("the document ends inside an element"));
    }
    let root = stack.pop().unwrap_or_default();
    if root.find("Envelope").is_none() {
        return Err(malformed("not a SOAP envelope"));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_names_attributes_and_entities() {
        let doc = parse(
            r#"<?xml version="1.0"?><S:Envelope xmlns:S="x"><S:Body><ns2:r xmlns:ns2="y" guid="A&amp;B"><error errorNumber="7" errorDesc="zły &lt;kod&gt;"/><t>a &amp; b&#32;c</t><![CDATA[<raw>]]></ns2:r></S:Body></S:Envelope>"#,
        )
        .unwrap();
        let r = doc.find("r").unwrap();
        assert_eq!(r.attr("guid"), Some("A&B"));
        assert_eq!(r.find_all("error").len(), 1);
        assert_eq!(
            r.find("error").unwrap().attr("errorDesc"),
            Some("zły <kod>")
        );
        assert_eq!(r.child_text("t"), Some("a & b c"));
        assert!(r.text.contains("<raw>"));
        assert_eq!(fault(&doc), None);
    }

    #[test]
    fn faults_and_broken_documents() {
        let doc = parse(
            r#"<soap:Envelope xmlns:soap="x"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to process request.</faultstring></soap:Fault></soap:Body></soap:Envelope>"#,
        )
        .unwrap();
        let fault = fault(&doc).unwrap();
        assert!(fault.is_server());
        assert!(!fault.is_authentication());
        let soap12 = parse(
            r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">Server was unable to process request.</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"#,
        )
        .unwrap();
        let fault12 = super::fault(&soap12).unwrap();
        assert_eq!(fault12.message, "Server was unable to process request.");
        assert!(fault12.is_server());
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("<html><body>503</body></html>").is_err());
        assert!(parse("{}").is_err());
    }

    #[test]
    fn envelope_wraps_the_body() {
        let xml = envelope(r#"xmlns:en="urn:x""#, "<en:hello/>");
        assert!(xml.contains(r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:en="urn:x">"#));
        assert!(xml.ends_with("<soapenv:Body><en:hello/></soapenv:Body></soapenv:Envelope>"));
        assert_eq!(esc(r#"a<&>"'"#), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
