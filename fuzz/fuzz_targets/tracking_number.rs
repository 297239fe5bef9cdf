//! R3/R12 tracking-number validation (`fulfillment_policy::tracking_number`): what a caller
//! types as a carrier and a tracking number, by API or on the dashboard, and the country codes.
//!
//! The first byte picks the carrier (one of the known ones, or the text up to the first `|`
//! for an arbitrary one), the second the channel; the rest is the raw tracking number.
//!
//! Invariants: normalising is idempotent and leaves no whitespace or dash; an accepted number
//! is the normalised input, ASCII letters and digits in the carrier's format, and is accepted
//! again as it is; the dashboard accepts nothing the API refuses; a UPU S10 number fails with
//! any other check digit; an accepted country code is accepted again as it is.
#![no_main]

use fulfillment_policy::tracking_number::{
    Channel, MAX_RAW_LEN, TrackingFormat, TrackingNumberError, find_carrier, is_nfe_number,
    is_poczta_polska_domestic, is_unresolved_intelipost, is_upu_s10, known_carriers,
    normalize_tracking_number, validate_country_code, validate_tracking_number,
};
use libfuzzer_sys::fuzz_target;

fn check_upu(number: &str) {
    if !is_upu_s10(number) {
        return;
    }
    assert_eq!(number.len(), 13);
    let bytes = number.as_bytes();
    let matching = (b'0'..=b'9')
        .filter(|d| {
            let mut other = bytes.to_vec();
            other[10] = *d;
            is_upu_s10(std::str::from_utf8(&other).expect("ASCII"))
        })
        .count();
    assert_eq!(matching, 1, "{number}: more than one check digit passes");
}

fuzz_target!(|data: &[u8]| {
    let (Some(&pick), Some(&channel)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = String::from_utf8_lossy(&data[2..]);
    let carriers = known_carriers();
    let (carrier, raw): (&str, &str) = match carriers.get(usize::from(pick)) {
        Some(info) => (info.code, &rest),
        None => rest.split_once('|').unwrap_or(("", &rest)),
    };
    let channel = if channel % 2 == 0 {
        Channel::Api
    } else {
        Channel::Dashboard
    };

    let normalized = normalize_tracking_number(raw);
    assert_eq!(
        normalize_tracking_number(&normalized),
        normalized,
        "not idempotent"
    );
    assert!(!normalized.contains(|c: char| c.is_whitespace() || c == '-'));
    check_upu(&normalized);
    if is_nfe_number(&normalized) || is_poczta_polska_domestic(&normalized) {
        assert!(normalized.bytes().all(|b| b.is_ascii_digit()));
    }
    assert_eq!(
        is_unresolved_intelipost(carrier, &normalized),
        carrier.trim().eq_ignore_ascii_case("intelipost") && !is_nfe_number(&normalized)
    );

    let result = validate_tracking_number(carrier, raw, channel);
    match &result {
        Err(error) => {
            assert!(!error.reason().is_empty() && !error.field().is_empty());
            assert!(!error.to_string().is_empty());
            if matches!(error, TrackingNumberError::TooLong) {
                assert!(raw.len() > MAX_RAW_LEN);
            }
        }
        Ok(valid) => {
            let info = find_carrier(carrier).expect("accepted for a known carrier");
            assert_eq!(valid.carrier, info.code);
            assert!(raw.len() <= MAX_RAW_LEN);
            assert_eq!(valid.tracking_number, normalized);
            let number = valid.tracking_number.as_str();
            assert!(!number.is_empty() && number.bytes().all(|b| b.is_ascii_alphanumeric()));
            match (info.format, channel) {
                (TrackingFormat::InPost24Digits, _) => assert!(number.len() == 24),
                (TrackingFormat::PocztaPolska, _) => {
                    assert!(is_upu_s10(number) || is_poczta_polska_domestic(number))
                }
                (TrackingFormat::UpuS10, _) => assert!(is_upu_s10(number)),
                (TrackingFormat::IntelipostNfe, Channel::Dashboard) => {
                    assert!(is_nfe_number(number))
                }
                (TrackingFormat::IntelipostNfe, Channel::Api) | (TrackingFormat::Generic, _) => {
                    assert!(number.len() <= 44)
                }
            }
            // The stored number is accepted again as it is, by its canonical carrier code.
            assert_eq!(
                validate_tracking_number(valid.carrier, number, channel).as_ref(),
                Ok(valid)
            );
            if channel == Channel::Dashboard {
                assert_eq!(
                    validate_tracking_number(carrier, raw, Channel::Api).as_ref(),
                    Ok(valid),
                    "the API refuses what the dashboard accepts"
                );
            }
        }
    }

    // Country codes (R3), on the same text.
    if let Ok(code) = validate_country_code(raw) {
        assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
        assert_eq!(validate_country_code(&code), Ok(code.clone()));
    }
});
