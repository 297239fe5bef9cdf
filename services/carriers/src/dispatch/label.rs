//! The label file a carrier returns, and the base64 the SOAP carriers wrap it in.

use std::fmt;

use base64::Engine as _;

use super::DispatchError;

/// A label file. `Debug` shows its size, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Label {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

impl Label {
    pub const PDF: &'static str = "application/pdf";

    /// A PDF label; anything that does not start like a PDF is malformed.
    pub fn pdf(bytes: Vec<u8>) -> Result<Self, DispatchError> {
        if !bytes.starts_with(b"%PDF-") {
            return Err(DispatchError::Malformed(
                "the label is not a PDF document".into(),
            ));
        }
        Ok(Self {
            bytes,
            content_type: Self::PDF.to_owned(),
        })
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Label")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Standard base64 (RFC 4648, padded or not), as SOAP carries `xsd:base64Binary`; line breaks
/// and other whitespace, with which SOAP services wrap long values, are skipped first.
pub(crate) fn decode_base64(input: &str) -> Result<Vec<u8>, DispatchError> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let clean: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT
        .decode(clean)
        .map_err(|_| DispatchError::Malformed("the label is not valid base64".into()))
}
