//! `csv_file::parse_upload`: the merchant's spreadsheet of a bulk fulfilment (untrusted bytes).
//!
//! Invariants beyond "no panic": the limits hold; every kept cell is trimmed, at most 256
//! characters and NUL-free; lines only grow and start after the header; a row's problem is
//! one of the two the file alone can tell; and the rows written back as CSV (the export's
//! writer) parse to the same values and problems.
#![no_main]

use fulfillment_orders::csv_file::{self, FileError, UploadLimits, UploadRow};
use libfuzzer_sys::fuzz_target;

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 * 1024,
    max_rows: 50,
};

fn values(row: &UploadRow) -> [&str; 4] {
    [
        &row.order_id,
        &row.carrier,
        &row.tracking_number,
        &row.origin_country,
    ]
}

fuzz_target!(|data: &[u8]| {
    let parsed = match csv_file::parse_upload(data, LIMITS) {
        Ok(parsed) => parsed,
        Err(error) => {
            // Every refusal names its reason and renders.
            assert!(!error.reason().is_empty());
            assert!(!error.to_string().is_empty());
            match error {
                FileError::NotUtf8 { .. } => assert!(std::str::from_utf8(data).is_err()),
                FileError::HasNul { .. } => assert!(data.contains(&0)),
                FileError::TooLarge { .. } => assert!(data.len() > LIMITS.max_bytes),
                _ => {}
            }
            return;
        }
    };
    assert!(std::str::from_utf8(data).is_ok() && !data.contains(&0));
    assert!(parsed.rows.len() + parsed.skipped <= LIMITS.max_rows);
    assert!(!parsed.rows.is_empty() || parsed.skipped > 0);
    let mut last_line = 1;
    for row in &parsed.rows {
        assert!(row.line > last_line, "line {} after {last_line}", row.line);
        last_line = row.line;
        for value in values(row) {
            assert!(value.chars().count() <= 256);
            assert!(!value.contains('\0'));
            assert!(!value.starts_with(char::is_whitespace));
        }
        assert!(
            values(row)[1..].iter().any(|v| !v.is_empty()),
            "a skipped row kept"
        );
        match &row.problem {
            None => assert!(!row.order_id.is_empty()),
            Some(p) if p.reason == "ORDER_ID_MISSING" => assert!(row.order_id.is_empty()),
            Some(p) => {
                assert_eq!(p.reason, "DUPLICATE_ORDER_ID");
                let same = parsed.rows.iter().filter(|r| r.order_id == row.order_id);
                assert!(same.count() > 1);
            }
        }
    }

    // Round trip: the kept rows, written as the export writes CSV, read back the same.
    if parsed.rows.is_empty() {
        return;
    }
    let mut out = Vec::new();
    csv_file::write_record(&mut out, csv_file::REQUIRED_COLUMNS.iter().copied());
    for row in &parsed.rows {
        csv_file::write_record(&mut out, values(row));
    }
    let again = csv_file::parse_upload(
        &out,
        UploadLimits {
            max_bytes: usize::MAX,
            max_rows: usize::MAX,
        },
    )
    .unwrap_or_else(|e| panic!("the rows written back are refused: {e}"));
    assert_eq!(again.skipped, 0);
    assert_eq!(again.rows.len(), parsed.rows.len());
    for (a, b) in parsed.rows.iter().zip(&again.rows) {
        // A cell cut at 256 characters can end in a space, which the second read trims.
        let trimmed = values(a).map(str::trim_end);
        assert_eq!(values(b), trimmed);
        assert_eq!(
            a.problem.as_ref().map(|p| p.reason),
            b.problem.as_ref().map(|p| p.reason)
        );
    }
});
