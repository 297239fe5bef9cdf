//! Secrets at rest (R19, issue 5): carrier credentials are sealed with AES-256-GCM under a key
//! from configuration. Each ciphertext records the id of its key, so keys rotate: the first key
//! of the ring seals new secrets, every key of the ring still opens old ones, and
//! `fulfillment-server rotate-secrets` re-seals old rows under the current key.
//!
//! Configuration (`FULFILLMENT_ENCRYPTION_KEYS` or a file): `ID:HEX64` entries separated by
//! commas or newlines, current key first, e.g. `k2:…64 hex…,k1:…64 hex…`.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("encryption keys: {0}")]
    Config(String),
    #[error("the secret was sealed with key {0:?}, which is not in the configured key ring")]
    UnknownKey(String),
    #[error("the secret could not be opened: corrupted, or bound to another record")]
    Corrupt,
    #[error("no random numbers available")]
    Random,
}

/// A sealed secret: the key id and `nonce || ciphertext || tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({}, {} bytes)", self.key_id, self.bytes.len())
    }
}

pub struct Keyring {
    /// Current key first.
    keys: Vec<(String, LessSafeKey)>,
    random: SystemRandom,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key ids only: the key material never reaches a log.
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        for entry in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, hex_key) = entry.split_once(':').ok_or_else(|| {
                SecretError::Config(
                    "each key is `ID:HEX64` (the id, a colon, 64 hex digits)".into(),
                )
            })?;
            let id = id.trim();
            if id.is_empty()
                || id.len() > 32
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(SecretError::Config(format!(
                    "key id {id:?} must be 1 to 32 letters, digits, '-' or '_'"
                )));
            }
            let mut material = [0u8; 32];
            // The error does not echo the text: it may be most of a key.
            hex::decode_to_slice(hex_key.trim(), &mut material).map_err(|_| {
                SecretError::Config(format!("key {id:?} must be 64 hex digits (256 bits)"))
            })?;
            if keys.iter().any(|(known, _)| known == id) {
                return Err(SecretError::Config(format!(
                    "key id {id:?} is listed twice"
                )));
            }
            let key = UnboundKey::new(&AES_256_GCM, &material).map_err(|_| {
                SecretError::Config(format!("key {id:?} is not a valid AES-256 key"))
            })?;
            keys.push((id.to_owned(), LessSafeKey::new(key)));
        }
        if keys.is_empty() {
            return Err(SecretError::Config("no keys given".into()));
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, SecretError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// The id of the key new secrets are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` under the current key, bound to `context` (e.g. the record id), so a
    /// ciphertext copied onto another record does not open.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Sealed, SecretError> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut bytes = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut bytes,
        )
        .map_err(|_| SecretError::Corrupt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&bytes);
        Ok(Sealed {
            key_id: id.clone(),
            bytes: out,
        })
    }

    pub fn open(&self, sealed: &Sealed, context: &[u8]) -> Result<Vec<u8>, SecretError> {
        let key = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .map(|(_, key)| key)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.bytes.len() < NONCE_LEN {
            return Err(SecretError::Corrupt);
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Corrupt)?;
        let mut buffer = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| SecretError::Corrupt)?;
        Ok(plain.to_vec())
    }
}

/// A new random identifier, `PREFIX-` and 24 hex digits (96 bits), for records whose id must be
/// known before they are written (a sealed secret is bound to it).
pub fn random_id(prefix: &str) -> Result<String, SecretError> {
    let mut bytes = [0u8; 12];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    Ok(format!("{prefix}-{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "k2:f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

    #[test]
    fn seals_and_opens_bound_to_its_context() {
        let ring = Keyring::parse(K1).unwrap();
        let sealed = ring.seal(b"hunter2", b"acct-1").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.bytes.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(ring.open(&sealed, b"acct-1").unwrap(), b"hunter2");
        assert_eq!(ring.open(&sealed, b"acct-2"), Err(SecretError::Corrupt));
        // Fresh nonce every time: the same secret never seals to the same bytes.
        assert_ne!(ring.seal(b"hunter2", b"acct-1").unwrap(), sealed);
        let mut tampered = sealed.clone();
        *tampered.bytes.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(&tampered, b"acct-1"), Err(SecretError::Corrupt));
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_with_the_new_one() {
        let old = Keyring::parse(K1).unwrap();
        let sealed_old = old.seal(b"s3cret", b"a").unwrap();
        let rotated = Keyring::parse(&format!("{K2}\n{K1}")).unwrap();
        assert_eq!(rotated.current_key_id(), "k2");
        assert_eq!(rotated.open(&sealed_old, b"a").unwrap(), b"s3cret");
        let sealed_new = rotated.seal(b"s3cret", b"a").unwrap();
        assert_eq!(sealed_new.key_id, "k2");
        // Once k1 is retired, its secrets say which key is missing.
        let retired = Keyring::parse(K2).unwrap();
        assert_eq!(
            retired.open(&sealed_old, b"a"),
            Err(SecretError::UnknownKey("k1".into()))
        );
        assert_eq!(
            old.open(&sealed_new, b"a"),
            Err(SecretError::UnknownKey("k2".into()))
        );
    }

    #[test]
    fn bad_configuration_is_refused_without_echoing_key_material() {
        for (text, expected) in [
            ("", "no keys"),
            ("k1", "ID:HEX64"),
            ("k1:abcd", "64 hex digits"),
            (&format!("{K1},{K1}"), "twice"),
            ("bad id:00", "must be 1 to 32"),
        ] {
            let err = Keyring::parse(text).err().unwrap().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains("0a0b0c"), "{err}");
        }
        let ring = Keyring::parse(K1).unwrap();
        assert_eq!(format!("{ring:?}"), r#"Keyring { key_ids: ["k1"] }"#);
    }
}
