//! The tracking request: one barcode in WishPost's XML body.

use super::LANGUAGE;

/// The request body for one barcode, every value escaped.
pub fn request_body(token: &str, barcode: &str) -> String {
    use quick_xml::escape::escape;
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<tracks><access_token>{token}</access_token><language>{language}</language>",
            "<track><barcode>{barcode}</barcode></track></tracks>"
        ),
        token = escape(token),
        language = LANGUAGE,
        barcode = escape(barcode.trim()),
    )
}
