//! The `sprawdzPrzesylkePl` request: a SOAP 1.1 envelope with a WS-Security `UsernameToken`.

use quick_xml::escape::escape;

use super::NAMESPACE;
use crate::xml::soap_envelope;

/// The SOAP envelope of `sprawdzPrzesylkePl`, every value escaped.
pub fn request_body(username: &str, password: &str, tracking_number: &str) -> String {
    let security = format!(
        concat!(
            r#"<wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">"#,
            r#"<wsse:UsernameToken>"#,
            r#"<wsse:Username>{user}</wsse:Username>"#,
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{password}</wsse:Password>"#,
            r#"</wsse:UsernameToken>"#,
            r#"</wsse:Security>"#,
        ),
        user = escape(username),
        password = escape(password),
    );
    let body = format!(
        "<sled:sprawdzPrzesylkePl><sled:numer>{}</sled:numer></sled:sprawdzPrzesylkePl>",
        escape(tracking_number.trim())
    );
    soap_envelope(&format!(r#"xmlns:sled="{NAMESPACE}""#), &security, &body)
}
