//! Owns: R19.
//!
//! R19: the Polish bank account number (NRB) a Poczta Polska account uses for cash on delivery.
//! An NRB is 26 digits: two check digits, then the bank's sort code and the account number. It is
//! the Polish IBAN without `PL`, so the IBAN mod-97 check applies.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NrbError {
    /// Not 26 digits once spaces and an optional `PL` prefix are removed.
    Format,
    /// 26 digits whose check digits do not match (a typo).
    Checksum,
}

impl NrbError {
    pub fn describe(self) -> &'static str {
        match self {
            NrbError::Format => "must be 26 digits (spaces and a PL prefix are allowed)",
            NrbError::Checksum => "has a wrong checksum; check the number for a typo",
        }
    }
}

/// The NRB as 26 digits, if it is one.
pub fn normalize_nrb(input: &str) -> Result<String, NrbError> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let digits = compact
        .strip_prefix("PL")
        .or_else(|| compact.strip_prefix("pl"))
        .unwrap_or(&compact);
    if digits.len() != 26 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NrbError::Format);
    }
    // IBAN check: account digits, then "PL" as 25 21, then the check digits; mod 97 must be 1.
    let rearranged = format!("{}2521{}", &digits[2..], &digits[..2]);
    let remainder = rearranged
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    if remainder != 1 {
        return Err(NrbError::Checksum);
    }
    Ok(digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_nrb_in_any_common_spelling() {
        // A published example account (PKO BP format), valid checksum.
        for spelling in [
            "61109010140000071219812874",
            "61 1090 1014 0000 0712 1981 2874",
            "PL61 1090 1014 0000 0712 1981 2874",
        ] {
            assert_eq!(
                normalize_nrb(spelling),
                Ok("61109010140000071219812874".into())
            );
        }
    }

    #[test]
    fn a_typo_fails_the_checksum_and_junk_fails_the_format() {
        assert_eq!(
            normalize_nrb("61109010140000071219812875"),
            Err(NrbError::Checksum)
        );
        assert_eq!(
            normalize_nrb("16109010140000071219812874"),
            Err(NrbError::Checksum)
        );
        assert_eq!(
            normalize_nrb("6110901014000007121981287"),
            Err(NrbError::Format)
        );
        assert_eq!(
            normalize_nrb("DE61109010140000071219812874"),
            Err(NrbError::Format)
        );
        assert_eq!(normalize_nrb(""), Err(NrbError::Format));
    }
}
