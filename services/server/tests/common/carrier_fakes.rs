//! What the carriers' wiremock fakes answer in more than one test binary (`dispatch_api` and
//! `e2e_dispatch`): the dispatch fixtures the carriers crate records, and the answers built from
//! them, kept here so both binaries fake the carriers the same way.

// The carriers' tests read EN's requests the same way.
#[path = "../../../carriers/tests/common/soap.rs"]
mod soap;

use wiremock::matchers::{header, method};
use wiremock::{Mock, MockBuilder, Request, Respond, ResponseTemplate};

/// A UPU S10 number for the Poczta Polska answers (R3 holds Poczta Polska to S10).
pub const PP_NUMBER: &str = "RR123456785PL";

fn fixture_path(path: &str) -> String {
    format!(
        "{}/../carriers/tests/fixtures/dispatch/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A dispatch fixture of `services/carriers/tests/fixtures/dispatch`, as text.
pub fn fixture(path: &str) -> String {
    let full = fixture_path(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A dispatch fixture as bytes (the PDF labels).
pub fn fixture_bytes(path: &str) -> Vec<u8> {
    let full = fixture_path(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A SOAP answer: 200 with `body` as XML.
pub fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/xml; charset=utf-8")
}

/// A SOAP operation, by its action.
pub fn soap(action: String) -> MockBuilder {
    Mock::given(method("POST")).and(header("soapaction", action.as_str()))
}

/// EN answering `addShipment` with the guid it was sent, as it does, and [`PP_NUMBER`].
pub struct EchoGuid;

impl Respond for EchoGuid {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let guid = soap::request_guid(request);
        xml(fixture("poczta_polska/add_shipment_ok.xml")
            .replace("{GUID}", &guid)
            .replace("00659007734100020216", PP_NUMBER))
    }
}
