//! Passwords we only ever check, never use (the Intelipost webhook's Basic auth, R14): stored
//! as salted PBKDF2-HMAC-SHA256, compared in constant time by `ring`.

use std::num::NonZeroU32;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

const SCHEME: &str = "pbkdf2-sha256";
/// Enough to make an offline guess costly, cheap enough for one webhook call (~5 ms).
const ITERATIONS: u32 = 20_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("no random numbers available")]
pub struct NoRandom;

/// `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
pub fn hash_password(password: &str) -> Result<String, NoRandom> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new().fill(&mut salt).map_err(|_| NoRandom)?;
    let mut hash = [0u8; HASH_LEN];
    let iterations = NonZeroU32::new(ITERATIONS).ok_or(NoRandom)?;
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    Ok(format!(
        "{SCHEME}${ITERATIONS}${}${}",
        hex::encode(salt),
        hex::encode(hash)
    ))
}

/// Whether `password` matches a stored hash; a malformed hash matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        hex::decode(salt),
        hex::decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_salted() {
        let stored = hash_password("s3cret").unwrap();
        assert!(stored.starts_with("pbkdf2-sha256$20000$"));
        assert!(!stored.contains("s3cret"));
        assert!(verify_password("s3cret", &stored));
        assert!(!verify_password("s3cret ", &stored));
        assert!(!verify_password("", &stored));
        assert_ne!(stored, hash_password("s3cret").unwrap(), "salted");
        assert!(!verify_password("s3cret", "garbage"));
        assert!(!verify_password("s3cret", "pbkdf2-sha256$0$00$00"));
    }
}
