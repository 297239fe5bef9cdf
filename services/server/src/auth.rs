//! Who is calling: bearer tokens mapped to callers with a role (issue 5).
//!
//! The tokens file holds one caller a line, `ROLE SHA256_HEX_OF_TOKEN [MERCHANT_IDS]`, `#` for
//! comments. Only hashes are stored, so a leaked file (or Kubernetes Secret) does not leak
//! tokens; a presented token is hashed and compared with every entry in constant time.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use fulfillment_core::ServiceError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a caller is, which decides the RPCs it may call (see [`crate::authz`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// People and tools that read everything and run what-ifs.
    Operator,
    /// Internal pipelines: release orders, upsert merchants, ingest carrier events.
    Service,
    /// Acts for the merchant named in each request, within the merchants its token allows.
    MerchantGateway,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Operator, Role::Service, Role::MerchantGateway];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Service => "service",
            Role::MerchantGateway => "merchant-gateway",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The merchants a caller may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merchants {
    Any,
    Only(BTreeSet<String>),
}

/// The authenticated caller of one request, put in the request's extensions by the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable, non-secret name used in audit rows and idempotency keys: the role and the first
    /// hex digits of the token's hash.
    pub id: String,
    /// `None` only in open local mode (no tokens configured, loopback listeners only).
    pub role: Option<Role>,
    pub merchants: Merchants,
}

impl Caller {
    /// The caller of every request when the server runs open on loopback.
    pub fn local() -> Self {
        Caller {
            id: "local".to_owned(),
            role: None,
            merchants: Merchants::Any,
        }
    }

    /// Checks that this caller may act for `merchant_id`. A restricted caller must always name
    /// its merchant: an empty id never widens to "all merchants".
    pub fn check_merchant(&self, merchant_id: &str) -> Result<(), ServiceError> {
        if !merchant_id.is_empty() {
            // The call's `rpc` span (issue 20.3): a merchant's calls can be found in the logs.
            tracing::Span::current().record(
                "merchant",
                tracing::field::display(fulfillment_core::logging::Truncated(merchant_id)),
            );
        }
        match &self.merchants {
            Merchants::Any => Ok(()),
            Merchants::Only(_) if merchant_id.is_empty() => Err(ServiceError::invalid(
                "MERCHANT_ID_REQUIRED",
                "merchant_id",
                "is required for a merchant-gateway caller",
            )),
            Merchants::Only(allowed) if allowed.contains(merchant_id) => Ok(()),
            Merchants::Only(_) => Err(ServiceError::permission_denied(
                "MERCHANT_NOT_ALLOWED",
                format!(
                    "caller {} may not act for merchant {merchant_id:?}",
                    self.id
                ),
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the auth tokens file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth tokens line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the auth tokens configuration holds no tokens")]
    Empty,
}

struct Entry {
    hash: [u8; 32],
    caller: Caller,
}

/// The configured callers, keyed by the SHA-256 of their tokens.
pub struct TokenTable {
    entries: Vec<Entry>,
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hashes are not secrets, but nothing is gained by printing them.
        f.debug_struct("TokenTable")
            .field("callers", &self.entries.len())
            .finish()
    }
}

/// SHA-256 of a token, as the tokens file spells it (lowercase hex).
pub fn token_hash_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenTable {
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let bad = |reason: String| TokenFileError::Line { line, reason };
            let mut parts = content.split_whitespace();
            let (Some(role), Some(hash)) = (parts.next(), parts.next()) else {
                return Err(bad("expected `ROLE SHA256_HEX [MERCHANT_IDS]`".to_owned()));
            };
            let rest: Vec<&str> = parts.collect();
            let merchants = (!rest.is_empty()).then(|| rest.join(" "));
            let role = Role::parse(role).ok_or_else(|| {
                bad(format!(
                    "unknown role {role:?}; expected operator, service or merchant-gateway"
                ))
            })?;
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| {
                bad(
                    "the token must be given as 64 hex digits of its SHA-256, not in clear"
                        .to_owned(),
                )
            })?;
            let merchants = match (role, merchants.as_deref()) {
                (Role::MerchantGateway, None) => {
                    return Err(bad(
                        "a merchant-gateway line needs its merchant ids (or `*` for any)"
                            .to_owned(),
                    ));
                }
                (Role::MerchantGateway, Some("*")) => Merchants::Any,
                (Role::MerchantGateway, Some(list)) => {
                    let ids: BTreeSet<String> = list
                        .split(',')
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if ids.iter().any(|id| id.contains(char::is_whitespace)) {
                        return Err(bad(
                            "merchant ids are separated by commas, e.g. `m-1,m-2`".to_owned()
                        ));
                    }
                    if ids.is_empty() {
                        return Err(bad("empty merchant id list".to_owned()));
                    }
                    Merchants::Only(ids)
                }
                (_, None | Some("*")) => Merchants::Any,
                (_, Some(_)) => {
                    return Err(bad(format!(
                        "merchant ids apply only to merchant-gateway; {role} reads every merchant"
                    )));
                }
            };
            if entries.iter().any(|e| e.hash == digest) {
                return Err(bad("this token hash is already listed".to_owned()));
            }
            let id = format!("{role}:{}", &hash[..8].to_ascii_lowercase());
            entries.push(Entry {
                hash: digest,
                caller: Caller {
                    id,
                    role: Some(role),
                    merchants,
                },
            });
        }
        if entries.is_empty() {
            return Err(TokenFileError::Empty);
        }
        Ok(Self { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller a token belongs to. Every entry is compared, in constant time, so neither the
    /// position of a match nor how much of a hash matched shows in the timing.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let presented = Sha256::digest(token.as_bytes());
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.hash.ct_eq(presented.as_slice())) {
                found = Some(&entry.caller);
            }
        }
        found.cloned()
    }
}

/// The token of an `authorization: Bearer <token>` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        TokenTable::parse(&format!(
            "# callers\n\
             operator {op}\n\
             service  {svc}   # the release pipeline\n\
             merchant-gateway {gw} m-1, m-2\n",
            op = token_hash_hex("op-token"),
            svc = token_hash_hex("svc-token"),
            gw = token_hash_hex("gw-token"),
        ))
        .unwrap()
    }

    #[test]
    fn tokens_map_to_their_callers() {
        let t = table();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.authenticate("op-token").unwrap().role,
            Some(Role::Operator)
        );
        assert_eq!(
            t.authenticate("svc-token").unwrap().merchants,
            Merchants::Any
        );
        let gw = t.authenticate("gw-token").unwrap();
        assert_eq!(gw.role, Some(Role::MerchantGateway));
        assert!(gw.check_merchant("m-2").is_ok());
        assert!(matches!(
            gw.check_merchant("m-3"),
            Err(ServiceError::PermissionDenied { .. })
        ));
        assert!(gw.id.starts_with("merchant-gateway:"));
        assert!(!gw.id.contains("gw-token"));
    }

    #[test]
    fn unknown_and_near_miss_tokens_are_rejected() {
        let t = table();
        assert!(t.authenticate("op-tokeN").is_none());
        assert!(t.authenticate("").is_none());
        // The hash itself is not a token.
        assert!(t.authenticate(&token_hash_hex("op-token")).is_none());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        let cases = [
            ("admin 00", "unknown role"),
            ("operator op-token", "64 hex digits"),
            (
                &format!("merchant-gateway {}", token_hash_hex("x")),
                "merchant ids",
            ),
            (
                &format!("operator {} m-1", token_hash_hex("x")),
                "only to merchant-gateway",
            ),
            (
                &format!("service {0}\nservice {0}", token_hash_hex("x")),
                "already listed",
            ),
            ("operator", "expected"),
            (
                &format!("merchant-gateway {} m-1 m-2", token_hash_hex("x")),
                "separated by commas",
            ),
        ];
        for (text, expected) in cases {
            let err = TokenTable::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains("line"), "{err}");
        }
        assert!(matches!(
            TokenTable::parse("# nothing\n\n"),
            Err(TokenFileError::Empty)
        ));
    }

    #[test]
    fn wildcard_gateway_acts_for_any_merchant() {
        let t = TokenTable::parse(&format!("merchant-gateway {} *", token_hash_hex("t"))).unwrap();
        assert!(
            t.authenticate("t")
                .unwrap()
                .check_merchant("anyone")
                .is_ok()
        );
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
