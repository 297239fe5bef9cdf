//! The merchant's spreadsheet (R7, R8, R17): the CSV `ExportOrders` writes (its columns are
//! `fulfillment_policy::spreadsheet`'s) and the parser of the file `StartBulkFulfillment` accepts back. Pure: bytes in, rows or a file-level error out.
//! A file-level error rejects the whole upload before anything is stored; a row-level problem
//! rejects that row only.

use std::collections::HashMap;

// The columns are a rule (R7, R8, R17): they live in the policy crate.
pub use fulfillment_policy::spreadsheet::{
    CARRIER, CN_EXPORT_COLUMNS, EXPORT_COLUMNS, ORDER_ID, ORIGIN_COUNTRY, REQUIRED_COLUMNS,
    TRACKING_NUMBER,
};

/// Longest value kept from a cell; longer ones are cut (and then fail validation on apply).
const MAX_CELL_CHARS: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_rows: usize,
}

/// One data row to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Line of the file the row starts on; the header is line 1.
    pub line: i32,
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub origin_country: String,
    /// Set when the row is refused by the file alone (e.g. a duplicate order id).
    pub problem: Option<RowProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct ParsedUpload {
    pub rows: Vec<UploadRow>,
    /// Rows with none of carrier, tracking number and origin country filled in: orders the
    /// merchant left for later. Not applied and not counted as rejected.
    pub skipped: usize,
}

/// Why a whole file is refused. Each names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty; it needs a header row with {}", REQUIRED_COLUMNS.join(", "))]
    Empty,
    #[error("the file is {size} bytes; at most {limit} are accepted in one upload")]
    TooLarge { size: usize, limit: usize },
    #[error("the file has more than {limit} rows; split it into several uploads")]
    TooManyRows { limit: usize },
    #[error("the file is not valid UTF-8 (line {line}); save it as CSV UTF-8")]
    NotUtf8 { line: u64 },
    #[error("the header lacks the column(s) {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("the header has the column {0:?} more than once")]
    DuplicateColumn(String),
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("the file has a header but no rows")]
    NoRows,
    #[error("line {line}: a NUL character (U+0000), which no cell may hold")]
    HasNul { line: u64 },
}

impl FileError {
    pub fn reason(&self) -> &'static str {
        match self {
            FileError::Empty | FileError::NoRows => "CSV_EMPTY",
            FileError::TooLarge { .. } | FileError::TooManyRows { .. } => "CSV_TOO_LARGE",
            FileError::NotUtf8 { .. } => "CSV_NOT_UTF8",
            FileError::MissingColumns(_) | FileError::DuplicateColumn(_) => "CSV_HEADER_INVALID",
            FileError::Malformed { .. } => "CSV_MALFORMED",
            FileError::HasNul { .. } => "CSV_HAS_NUL",
        }
    }
}

fn normalize_header(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

fn cell(record: &csv::StringRecord, index: usize) -> String {
    let value = record.get(index).unwrap_or("").trim();
    value.chars().take(MAX_CELL_CHARS).collect()
}

/// Parses an upload: BOM, CRLF, quoted fields with commas or newlines, extra and reordered
/// columns are all accepted; rows for the same order more than once are all refused, since
/// which one the merchant meant cannot be known.
pub fn parse_upload(bytes: &[u8], limits: UploadLimits) -> Result<ParsedUpload, FileError> {
    let text = decode(bytes, limits)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let (order_col, carrier_col, tracking_col, country_col) = columns(&mut reader)?;

    let mut lines = LineCounter::new(text.as_bytes());
    let mut parsed = ParsedUpload::default();
    let mut lines_by_order: HashMap<String, Vec<usize>> = HashMap::new();
    for result in reader.records() {
        let record = result.map_err(|e| malformed(&e, 0))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if parsed.rows.len() + parsed.skipped >= limits.max_rows {
            return Err(FileError::TooManyRows {
                limit: limits.max_rows,
            });
        }
        let line = lines.line_at(record.position().map_or(0, |p| p.byte()));
        let row = UploadRow {
            line: i32::try_from(line).unwrap_or(i32::MAX),
            order_id: cell(&record, order_col),
            carrier: cell(&record, carrier_col),
            tracking_number: cell(&record, tracking_col),
            origin_country: cell(&record, country_col),
            problem: None,
        };
        if row.carrier.is_empty() && row.tracking_number.is_empty() && row.origin_country.is_empty()
        {
            parsed.skipped += 1;
            continue;
        }
        if row.order_id.is_empty() {
            parsed.rows.push(UploadRow {
                problem: Some(RowProblem {
                    reason: "ORDER_ID_MISSING",
                    message: format!("the {ORDER_ID} column is empty"),
                }),
                ..row
            });
            continue;
        }
        lines_by_order
            .entry(row.order_id.clone())
            .or_default()
            .push(parsed.rows.len());
        parsed.rows.push(row);
    }
    mark_duplicates(&mut parsed, &lines_by_order);
    if parsed.rows.is_empty() && parsed.skipped == 0 {
        return Err(FileError::NoRows);
    }
    Ok(parsed)
}

/// The upload as text: within the size limit, UTF-8, without NUL, without its BOM, not blank.
fn decode(bytes: &[u8], limits: UploadLimits) -> Result<&str, FileError> {
    if bytes.len() > limits.max_bytes {
        return Err(FileError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            return Err(FileError::NotUtf8 { line });
        }
    };
    // PostgreSQL stores no NUL in text: refused whole, like bytes that are not UTF-8.
    if let Some(at) = text.find('\0') {
        let line = 1 + text[..at].matches('\n').count() as u64;
        return Err(FileError::HasNul { line });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    Ok(text)
}

/// The positions of the order id, carrier, tracking number and origin country columns; each
/// required column present once.
fn columns(reader: &mut csv::Reader<&[u8]>) -> Result<(usize, usize, usize, usize), FileError> {
    let header = reader.headers().map_err(|e| malformed(&e, 1))?.clone();
    let mut positions: HashMap<String, usize> = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        let key = normalize_header(name);
        if key.is_empty() {
            continue;
        }
        if positions.insert(key, index).is_some() && is_required(name) {
            return Err(FileError::DuplicateColumn(name.trim().to_owned()));
        }
    }
    let missing: Vec<&'static str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !positions.contains_key(&normalize_header(c)))
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing));
    }
    let column = |name: &str| positions.get(&normalize_header(name)).copied().unwrap_or(0);
    Ok((
        column(ORDER_ID),
        column(CARRIER),
        column(TRACKING_NUMBER),
        column(ORIGIN_COUNTRY),
    ))
}

/// Refuses every row of an order that appears more than once.
fn mark_duplicates(parsed: &mut ParsedUpload, lines_by_order: &HashMap<String, Vec<usize>>) {
    for indexes in lines_by_order.values().filter(|v| v.len() > 1) {
        let lines: Vec<String> = indexes
            .iter()
            .map(|i| parsed.rows[*i].line.to_string())
            .collect();
        for i in indexes {
            parsed.rows[*i].problem = Some(RowProblem {
                reason: "DUPLICATE_ORDER_ID",
                message: format!(
                    "the order appears on lines {} of the file; keep one row per order",
                    lines.join(", ")
                ),
            });
        }
    }
}

/// Line numbers from byte offsets, counted incrementally. (csv's own record line is one short
/// after a CRLF line end: it points at the `\n` of the previous record's terminator.)
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line a record starting at `byte` (or at the line end just before it) begins on.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        // A line ends with LF, CRLF, or a lone CR (as csv reads them).
        for i in self.offset..at {
            let lone_cr = self.text[i] == b'\r' && self.text.get(i + 1) != Some(&b'\n');
            if self.text[i] == b'\n' || lone_cr {
                self.line += 1;
            }
        }
        self.offset = self.offset.max(at);
        self.line
    }
}

fn is_required(name: &str) -> bool {
    let key = normalize_header(name);
    REQUIRED_COLUMNS.iter().any(|c| normalize_header(c) == key)
}

fn malformed(error: &csv::Error, fallback_line: u64) -> FileError {
    let line = error
        .position()
        .map_or(fallback_line, |p| p.line().max(fallback_line));
    FileError::Malformed {
        line,
        message: match error.kind() {
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
            _ => "the row cannot be read as CSV".to_owned(),
        },
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// Writes one CSV record into `out` (RFC 4180 quoting, CRLF line ends as spreadsheets expect).
pub fn write_record<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    let mut chunks = CsvChunks::new(usize::MAX);
    chunks.write(fields);
    out.extend_from_slice(&chunks.finish());
}

/// A CSV file written in chunks of about `chunk_bytes`, for streaming it out.
pub struct CsvChunks {
    writer: csv::Writer<Vec<u8>>,
    chunk_bytes: usize,
}

impl CsvChunks {
    pub fn new(chunk_bytes: usize) -> Self {
        Self {
            writer: writer(),
            chunk_bytes,
        }
    }

    pub fn write<T: AsRef<[u8]>>(&mut self, fields: impl IntoIterator<Item = T>) {
        // Writing into a Vec cannot fail.
        let _ = self.writer.write_record(fields);
    }

    /// The bytes written so far, once they reach a chunk (the csv writer's own buffer aside).
    pub fn take_full(&mut self) -> Option<Vec<u8>> {
        if self.writer.get_ref().len() < self.chunk_bytes {
            return None;
        }
        Some(std::mem::replace(&mut self.writer, writer()).finish_bytes())
    }

    /// Everything not yet taken.
    pub fn finish(self) -> Vec<u8> {
        self.writer.finish_bytes()
    }
}

trait FinishBytes {
    fn finish_bytes(self) -> Vec<u8>;
}

impl FinishBytes for csv::Writer<Vec<u8>> {
    fn finish_bytes(self) -> Vec<u8> {
        // Flushing into a Vec cannot fail.
        self.into_inner().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIMITS: UploadLimits = UploadLimits {
        max_bytes: 1 << 20,
        max_rows: 1000,
    };

    fn parse(text: &str) -> Result<ParsedUpload, FileError> {
        parse_upload(text.as_bytes(), LIMITS)
    }

    #[test]
    fn exported_header_is_a_valid_upload_header() {
        let mut file = Vec::new();
        write_record(
            &mut file,
            EXPORT_COLUMNS.iter().chain(CN_EXPORT_COLUMNS).copied(),
        );
        let mut row: Vec<String> = vec![String::new(); EXPORT_COLUMNS.len()];
        row[0] = "o1".into();
        row[19] = "USPS".into();
        row[20] = "9400110200881234567890".into();
        row[21] = "CN".into();
        write_record(&mut file, row.iter().map(String::as_str));
        let parsed = parse_upload(&file, LIMITS).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].carrier, "USPS");
        assert_eq!(parsed.rows[0].origin_country, "CN");
        assert_eq!(parsed.rows[0].line, 2);
    }

    #[test]
    fn bom_crlf_quotes_and_reordered_extra_columns() {
        let text = "\u{feff}Note,tracking number,ORIGIN COUNTRY,Carrier,Order ID\r\n\
                    \"a, b\nc\",LX123,CN,USPS,o1\r\n\
                    x,LX124,CN,\"US\"\"PS\",o2\r\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].order_id, "o1");
        assert_eq!(parsed.rows[0].tracking_number, "LX123");
        assert_eq!(parsed.rows[0].line, 2);
        // The quoted newline makes the next row start on line 4.
        assert_eq!(parsed.rows[1].line, 4);
        let lf = parse("Order ID,Carrier,Tracking Number,Origin Country\no1,U,A,CN\n\no2,U,B,CN\n")
            .unwrap();
        assert_eq!(
            lf.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 4],
            "a blank line still counts"
        );
        assert_eq!(parsed.rows[1].carrier, "US\"PS");
    }

    #[test]
    fn missing_columns_are_named() {
        let err = parse("Order ID,Carrier\no1,USPS\n").unwrap_err();
        assert_eq!(
            err,
            FileError::MissingColumns(vec![TRACKING_NUMBER, ORIGIN_COUNTRY])
        );
        assert!(err.to_string().contains("Tracking Number, Origin Country"));
    }

    #[test]
    fn empty_and_header_only_files() {
        assert_eq!(parse("").unwrap_err(), FileError::Empty);
        assert_eq!(parse("\u{feff}\r\n  \n").unwrap_err(), FileError::Empty);
        assert_eq!(
            parse("Order ID,Carrier,Tracking Number,Origin Country\r\n").unwrap_err(),
            FileError::NoRows
        );
    }

    #[test]
    fn duplicate_order_ids_are_all_refused() {
        let parsed = parse(
            "Order ID,Carrier,Tracking Number,Origin Country\n\
             o1,USPS,A1,CN\no2,USPS,A2,CN\no1,USPS,A3,CN\n",
        )
        .unwrap();
        let reasons: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| r.problem.as_ref().map(|p| p.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![Some("DUPLICATE_ORDER_ID"), None, Some("DUPLICATE_ORDER_ID")]
        );
        assert!(
            parsed.rows[0]
                .problem
                .as_ref()
                .unwrap()
                .message
                .contains("lines 2, 4")
        );
    }

    #[test]
    fn unfilled_rows_are_skipped_and_missing_order_id_is_a_row_problem() {
        let parsed = parse(
            "Order ID,Carrier,Tracking Number,Origin Country\n\
             o1,,,\n,USPS,A1,CN\n",
        )
        .unwrap();
        assert_eq!(parsed.skipped, 1);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(
            parsed.rows[0].problem.as_ref().unwrap().reason,
            "ORDER_ID_MISSING"
        );
    }

    #[test]
    fn limits_and_invalid_utf8_refuse_the_file() {
        let mut text = String::from("Order ID,Carrier,Tracking Number,Origin Country\n");
        for i in 0..3 {
            text.push_str(&format!("o{i},USPS,A{i},CN\n"));
        }
        let small = UploadLimits {
            max_bytes: 1 << 20,
            max_rows: 2,
        };
        assert_eq!(
            parse_upload(text.as_bytes(), small).unwrap_err(),
            FileError::TooManyRows { limit: 2 }
        );
        let tiny = UploadLimits {
            max_bytes: 10,
            max_rows: 100,
        };
        assert!(matches!(
            parse_upload(text.as_bytes(), tiny).unwrap_err(),
            FileError::TooLarge { limit: 10, .. }
        ));
        let mut bad = text.into_bytes();
        bad.extend_from_slice(b"o9,US\xffPS,A9,CN\n");
        assert_eq!(
            parse_upload(&bad, LIMITS).unwrap_err(),
            FileError::NotUtf8 { line: 5 }
        );
        // Issue 19.1: PostgreSQL stores no NUL; the line is named.
        let nul =
            "Order ID,Carrier,Tracking Number,Origin Country\no1,USPS,A1,CN\no2,US\0PS,A2,CN\n";
        let err = parse_upload(nul.as_bytes(), LIMITS).unwrap_err();
        assert_eq!(err, FileError::HasNul { line: 3 });
        assert_eq!(err.reason(), "CSV_HAS_NUL");
    }

    /// Property: no input makes the parser panic, and whatever it accepts keeps the row limit
    /// and line numbers past the header. Inputs are random bytes and random mutations of a
    /// valid file (a fixed seed keeps failures reproducible).
    #[test]
    fn no_input_makes_the_parser_panic() {
        let valid = "\u{feff}Order ID,Carrier,Tracking Number,Origin Country,Note\r\n\
                     o1,USPS,LX1,CN,\"a,\"\"b\"\"\nc\"\r\no2,UPS,1Z9,US,\r\n";
        let alphabet: &[u8] = b",\"\r\n\xef\xbb\xbf\xff\x00aO ";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let limits = UploadLimits {
            max_bytes: 4096,
            max_rows: 8,
        };
        for case in 0..20_000 {
            let mut bytes: Vec<u8> = if case % 4 == 0 {
                (0..next() % 200).map(|_| next() as u8).collect()
            } else {
                valid.as_bytes().to_vec()
            };
            for _ in 0..(next() % 6) {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 3 {
                    0 => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
            }
            if let Ok(parsed) = parse_upload(&bytes, limits) {
                assert!(parsed.rows.len() + parsed.skipped <= limits.max_rows);
                assert!(parsed.rows.iter().all(|r| r.line > 1));
            }
        }
    }
}
