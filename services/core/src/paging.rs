//! Pages of a list (AIP-158): the page-size check, the keyset page token of the lists ordered by
//! a time and an id, and the "one extra row" that tells whether another page exists. Shared so
//! that every list answers a bad size or token with the same violation.

use chrono::{DateTime, Utc};

use diesel::PgConnection;

use crate::input::{check_id, require_merchant};
use crate::{ServiceResult, Violations};

pub const MAX_PAGE_SIZE: i64 = 500;
pub const DEFAULT_PAGE_SIZE: i64 = 50;

/// The page size asked for: 0 means `default`; outside `1..=max` is a violation (and `default`
/// is returned so that the other checks still run).
pub fn page_size(v: &mut Violations, requested: i32, default: i64, max: i64) -> i64 {
    match i64::from(requested) {
        0 => default,
        n if (1..=max).contains(&n) => n,
        _ => {
            v.add("page_size", format!("must be between 1 and {max}"));
            default
        }
    }
}

/// The position a page token names, `None` for the first page; a token `decode` does not
/// understand is a `page_token` violation saying `message`.
pub fn page_after<T>(
    v: &mut Violations,
    page_token: &str,
    decode: impl FnOnce(&str) -> Option<T>,
    message: &str,
) -> Option<T> {
    if page_token.is_empty() {
        return None;
    }
    let decoded = decode(page_token);
    if decoded.is_none() {
        v.add("page_token", message);
    }
    decoded
}

/// The keyset `(time, id)` a page starts after, from a token of [`encode_page_token`].
pub fn keyset_after(v: &mut Violations, page_token: &str) -> Option<(DateTime<Utc>, String)> {
    page_after(
        v,
        page_token,
        decode_page_token,
        "is not a token returned by this RPC",
    )
}

/// A page token is the keyset (time, id) of the last row returned.
pub fn encode_page_token(at: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", at.timestamp_micros())
}

pub fn decode_page_token(token: &str) -> Option<(DateTime<Utc>, String)> {
    let (micros, id) = token.split_once('|')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.to_owned()))
}

/// Rows loaded with one extra (`size + 1`) cut to `size`, and whether another page exists.
pub fn take_page<T>(mut rows: Vec<T>, size: i64) -> (Vec<T>, bool) {
    let has_more = rows.len() as i64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(0));
    (rows, has_more)
}

/// A checked request for a page of one merchant's list in keyset `(time, id)` order: the
/// merchant id well-formed and known, the size and the token valid, every violation answered at
/// once. The lists of orders to fulfil and of stuck trackings share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetPage {
    /// Rows on the page; load `size + 1` to learn whether another page exists.
    pub size: i64,
    /// The keyset the page starts after; `None` for the first page.
    pub after: Option<(DateTime<Utc>, String)>,
}

impl KeysetPage {
    pub fn of_merchant(
        conn: &mut PgConnection,
        merchant_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> ServiceResult<Self> {
        let mut v = Violations::new();
        check_id(&mut v, "merchant_id", merchant_id);
        let size = self::page_size(&mut v, page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
        let after = keyset_after(&mut v, page_token);
        v.finish("INVALID_REQUEST")?;
        require_merchant(conn, merchant_id)?;
        Ok(Self { size, after })
    }
}
