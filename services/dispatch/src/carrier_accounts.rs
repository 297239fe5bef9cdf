//! Carrier accounts (R19): connect, list, disconnect, and the key rotation of their secrets.
//! Secrets are sealed with the configured key ring before they are written, bound to the
//! account id, and never leave this module in clear except through [`credentials`] (for
//! dispatch), whose type does not print them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::repo::carrier_accounts::{
    self as repo, CarrierAccountRow, NewAccountEvent, NewCarrierAccount,
};
use fulfillment_core::repo::merchants;
use fulfillment_core::secrets::{Keyring, Sealed, SecretError, random_id};
use fulfillment_core::{ServiceError, ServiceResult, Violations};
use fulfillment_policy::bank_account::normalize_nrb;

use fulfillment_core::input::{Actor, check_id};

const MAX_FIELD: usize = 200;
/// Poczta Polska parcel sizes (Pocztex gabaryty).
const POCZTA_SIZES: &[&str] = &["S", "M", "L", "XL", "2XL"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PocztaKind {
    Regular,
    Marketplace,
}

impl PocztaKind {
    fn as_str(self) -> &'static str {
        match self {
            PocztaKind::Regular => "regular",
            PocztaKind::Marketplace => "marketplace",
        }
    }
}

/// The settings a merchant connects with, secrets included (R19).
#[derive(Clone)]
pub enum AccountSettings {
    PocztaPolska {
        login: String,
        password: String,
        /// `None`: the caller sent an unknown or unspecified kind.
        kind: Option<PocztaKind>,
        default_sizes: BTreeMap<String, String>,
        cod_bank_account: String,
    },
    PaczkaWRuchu {
        partner_id: String,
        partner_key: String,
        default_size: String,
    },
    Inpost {
        organization_id: String,
        api_token: String,
        default_template: String,
        sending_locker: String,
        send_from_locker: bool,
    },
}

impl fmt::Debug for AccountSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret fields, whoever logs this.
        write!(f, "AccountSettings({})", self.carrier())
    }
}

impl AccountSettings {
    pub fn carrier(&self) -> &'static str {
        match self {
            AccountSettings::PocztaPolska { .. } => "poczta-polska",
            AccountSettings::PaczkaWRuchu { .. } => "paczka-w-ruchu",
            AccountSettings::Inpost { .. } => "inpost",
        }
    }
}

/// The decrypted credentials of an account, for the dispatch clients. `Debug` redacts them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// An account as shown to merchants and operators: no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub id: String,
    pub merchant_id: String,
    pub carrier: String,
    pub settings: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

fn view(row: CarrierAccountRow) -> AccountView {
    let settings = serde_json::from_value(row.settings).unwrap_or_default();
    AccountView {
        id: row.id,
        merchant_id: row.merchant_id,
        carrier: row.carrier,
        settings,
        created_at: row.created_at,
    }
}

/// Validated settings split into what may be shown and the secret.
struct Split {
    kind: &'static str,
    public: BTreeMap<String, String>,
    secret: String,
}

fn validate(settings: Option<&AccountSettings>) -> ServiceResult<Split> {
    let mut v = Violations::new();
    let Some(settings) = settings else {
        return Err(ServiceError::invalid(
            "CARRIER_SETTINGS_REQUIRED",
            "settings",
            "one of poczta_polska, paczka_w_ruchu or inpost is required",
        ));
    };
    let mut public = BTreeMap::new();
    let (kind, secret) = match settings {
        AccountSettings::PocztaPolska {
            login,
            password,
            kind,
            default_sizes,
            cod_bank_account,
        } => {
            let kind = validate_poczta_polska(
                &mut v,
                &mut public,
                (login, password),
                *kind,
                default_sizes,
                cod_bank_account,
            );
            (kind, password)
        }
        AccountSettings::PaczkaWRuchu {
            partner_id,
            partner_key,
            default_size,
        } => {
            // R19: these cannot be checked now; dispatch reports a rejection.
            v.text("paczka_w_ruchu.partner_id", partner_id, MAX_FIELD);
            v.text("paczka_w_ruchu.partner_key", partner_key, MAX_FIELD);
            v.text("paczka_w_ruchu.default_size", default_size, 16);
            insert_trimmed(&mut public, "partner_id", partner_id);
            insert_trimmed(&mut public, "default_size", default_size);
            ("", partner_key)
        }
        AccountSettings::Inpost {
            organization_id,
            api_token,
            default_template,
            sending_locker,
            send_from_locker,
        } => {
            v.text("inpost.organization_id", organization_id, MAX_FIELD);
            v.text("inpost.api_token", api_token, 4096);
            v.text("inpost.default_template", default_template, 40);
            if *send_from_locker {
                // R19: sending from a parcel locker needs the locker chosen.
                v.text("inpost.sending_locker", sending_locker, 40);
            } else {
                v.optional_text("inpost.sending_locker", sending_locker, 40);
            }
            insert_trimmed(&mut public, "organization_id", organization_id);
            insert_trimmed(&mut public, "default_template", default_template);
            public.insert("send_from_locker".to_owned(), send_from_locker.to_string());
            if !sending_locker.trim().is_empty() {
                insert_trimmed(&mut public, "sending_locker", sending_locker);
            }
            ("", api_token)
        }
    };
    v.finish("INVALID_CARRIER_ACCOUNT")?;
    Ok(Split {
        kind,
        public,
        secret: secret.clone(),
    })
}

/// A setting shown as given, without the spaces around it.
fn insert_trimmed(public: &mut BTreeMap<String, String>, key: &str, value: &str) {
    public.insert(key.to_owned(), value.trim().to_owned());
}

/// Checks Poczta Polska's settings (R19) and fills what may be shown; answers the account kind.
fn validate_poczta_polska(
    v: &mut Violations,
    public: &mut BTreeMap<String, String>,
    (login, password): (&str, &str),
    kind: Option<PocztaKind>,
    default_sizes: &BTreeMap<String, String>,
    cod_bank_account: &str,
) -> &'static str {
    v.text("poczta_polska.login", login, MAX_FIELD);
    v.text("poczta_polska.password", password, MAX_FIELD);
    if kind.is_none() {
        v.add(
            "poczta_polska.account_kind",
            "must be REGULAR or MARKETPLACE (both may be connected)",
        );
    }
    for (shipment_type, size) in default_sizes {
        if shipment_type.trim().is_empty() || shipment_type.len() > 40 {
            v.add(
                "poczta_polska.default_sizes",
                "shipment types are 1 to 40 characters",
            );
        } else if !POCZTA_SIZES.contains(&size.as_str()) {
            v.add(
                "poczta_polska.default_sizes",
                format!("size {size:?} for {shipment_type} must be one of S, M, L, XL, 2XL"),
            );
        }
    }
    if !cod_bank_account.trim().is_empty() {
        match normalize_nrb(cod_bank_account) {
            Ok(nrb) => {
                public.insert("cod_bank_account".to_owned(), nrb);
            }
            Err(e) => v.add("poczta_polska.cod_bank_account", e.describe()),
        }
    }
    insert_trimmed(public, "login", login);
    let kind = kind.unwrap_or(PocztaKind::Regular).as_str();
    public.insert("account_kind".to_owned(), kind.to_owned());
    for (shipment_type, size) in default_sizes {
        public.insert(format!("default_size.{shipment_type}"), size.clone());
    }
    kind
}

fn keyring(keys: Option<&Keyring>) -> ServiceResult<&Keyring> {
    keys.ok_or_else(|| {
        ServiceError::precondition(
            "ENCRYPTION_KEY_MISSING",
            "carrier accounts need an encryption key: configure FULFILLMENT_ENCRYPTION_KEYS \
             (or --encryption-keys-file) on the server",
        )
    })
}

fn secret_error(e: SecretError) -> ServiceError {
    match e {
        SecretError::UnknownKey(_) => {
            ServiceError::precondition("ENCRYPTION_KEY_UNKNOWN", e.to_string())
        }
        other => ServiceError::internal(other),
    }
}

/// Connects an account, or replaces the credentials of the one already connected for this
/// merchant, carrier and kind. Returns the account and whether it is new.
pub fn connect(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    keys: Option<&Keyring>,
    actor: &Actor,
    merchant_id: &str,
    settings: Option<&AccountSettings>,
) -> ServiceResult<(AccountView, bool)> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    v.finish("INVALID_CARRIER_ACCOUNT")?;
    let split = validate(settings)?;
    let keys = keyring(keys)?;
    if merchants::find(conn, merchant_id)?.is_none() {
        return Err(ServiceError::not_found("merchant", merchant_id));
    }
    let carrier = settings.map_or("", AccountSettings::carrier);
    let public = serde_json::to_value(&split.public).map_err(ServiceError::internal)?;
    let existing = repo::connected_for_update(conn, merchant_id, carrier, split.kind)?;
    let (row, created) = match existing {
        Some(row) => {
            let sealed = keys
                .seal(split.secret.as_bytes(), row.id.as_bytes())
                .map_err(secret_error)?;
            let row = repo::replace_credentials(
                conn,
                &row.id,
                &public,
                &sealed.key_id,
                &sealed.bytes,
                now,
            )?;
            (row, false)
        }
        None => {
            let id = random_id("ca").map_err(ServiceError::internal)?;
            let sealed = keys
                .seal(split.secret.as_bytes(), id.as_bytes())
                .map_err(secret_error)?;
            let row = repo::insert(
                conn,
                &NewCarrierAccount {
                    id: &id,
                    merchant_id,
                    carrier,
                    kind: split.kind,
                    settings: &public,
                    secret_key_id: &sealed.key_id,
                    secret_sealed: &sealed.bytes,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            (row, true)
        }
    };
    let kind = if created {
        "connected"
    } else {
        "credentials_replaced"
    };
    // The public settings only; the audit trail never holds a secret.
    record_event(conn, now, actor, (merchant_id, &row.id), kind, public)?;
    Ok((view(row), created))
}

pub fn list(conn: &mut PgConnection, merchant_id: &str) -> ServiceResult<Vec<AccountView>> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    v.finish("INVALID_CARRIER_ACCOUNT")?;
    fulfillment_core::input::require_merchant(conn, merchant_id)?;
    Ok(repo::connected(conn, merchant_id)?
        .into_iter()
        .map(view)
        .collect())
}

pub fn disconnect(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    merchant_id: &str,
    account_id: &str,
) -> ServiceResult<()> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    check_id(&mut v, "account_id", account_id);
    v.finish("INVALID_CARRIER_ACCOUNT")?;
    let Some(row) = repo::get(conn, merchant_id, account_id)? else {
        return Err(ServiceError::not_found("carrier account", account_id));
    };
    // Disconnecting twice is a no-op, so a retried call succeeds.
    if repo::disconnect(conn, &row.id, now)? {
        let details = serde_json::json!({});
        record_event(
            conn,
            now,
            actor,
            (merchant_id, &row.id),
            "disconnected",
            details,
        )?;
    }
    Ok(())
}

/// An account's audit row (R19).
fn record_event(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    (merchant_id, account_id): (&str, &str),
    kind: &str,
    details: serde_json::Value,
) -> ServiceResult<()> {
    repo::record_event(
        conn,
        &NewAccountEvent {
            account_id,
            merchant_id,
            actor: &actor.0,
            kind,
            details,
            occurred_at: now,
        },
    )?;
    Ok(())
}

/// The decrypted secret of a connected account, for dispatch.
pub fn credentials(
    conn: &mut PgConnection,
    keys: Option<&Keyring>,
    merchant_id: &str,
    account_id: &str,
) -> ServiceResult<Credentials> {
    let keys = keyring(keys)?;
    let row = repo::get(conn, merchant_id, account_id)?
        .filter(|r| r.disconnected_at.is_none())
        .ok_or_else(|| ServiceError::not_found("carrier account", account_id))?;
    let sealed = Sealed {
        key_id: row.secret_key_id,
        bytes: row.secret_sealed,
    };
    let plain = keys
        .open(&sealed, row.id.as_bytes())
        .map_err(secret_error)?;
    let secret = String::from_utf8(plain).map_err(ServiceError::internal)?;
    Ok(Credentials { secret })
}

/// Re-seals every secret still under an older key with the current one, in batches, and
/// returns how many it re-sealed. Safe to run on several replicas at once (rows are locked and
/// skipped) and to repeat.
pub fn rotate_secrets(conn: &mut PgConnection, keys: &Keyring, batch: i64) -> ServiceResult<usize> {
    let mut total = 0;
    loop {
        let rows = diesel::Connection::transaction(conn, |conn| {
            let rows = repo::sealed_under_other_keys(conn, keys.current_key_id(), batch)?;
            for row in &rows {
                let old = Sealed {
                    key_id: row.secret_key_id.clone(),
                    bytes: row.secret_sealed.clone(),
                };
                let plain = keys.open(&old, row.id.as_bytes()).map_err(secret_error)?;
                let new = keys.seal(&plain, row.id.as_bytes()).map_err(secret_error)?;
                repo::reseal(conn, &row.id, &old.key_id, &new.key_id, &new.bytes)?;
            }
            Ok::<_, ServiceError>(rows.len())
        })?;
        total += rows;
        if rows < usize::try_from(batch).unwrap_or(usize::MAX) || rows == 0 {
            return Ok(total);
        }
    }
}
