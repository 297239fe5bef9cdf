//! What the fakes of Poczta Polska's EN read from a SOAP request, shared by the carriers'
//! dispatch tests and the server's carrier fakes (`#[path]`-included by both), so both echo
//! the guid as EN does.
#![allow(dead_code)]

use wiremock::Request;

/// The first `guid="..."` of the request body: the guid of the shipment it sends (`none`
/// when it has none).
pub fn request_guid(request: &Request) -> String {
    let body = String::from_utf8_lossy(&request.body);
    body.split("guid=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("none")
        .to_owned()
}
