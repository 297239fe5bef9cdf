//! Owns: R14.
//!
//! R14: Intelipost pushes tracking events over HTTPS to one path, authenticated with HTTP Basic
//! auth by the merchant's Intelipost user name and password. The sales channel `wish` is a
//! condition of the merchant's event rule in Intelipost, so a push never has to carry it. Events
//! are stored idempotently and applied in event-time order (R22, `tracking_status`). Decided here:
//! the path, and which integration a push may speak for.

/// The path Intelipost's event rule pushes to.
pub const INTELIPOST_PATH: &str = "/couriers/intelipost/trackings/v1";

/// The integration the push's user name names, as far as accepting the push is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integration {
    /// The merchant connected it (an event rule pushes to us); a disconnected one speaks for
    /// nobody (R13).
    pub connected: bool,
    /// The push's password is this integration's.
    pub password_matches: bool,
}

/// R14: a push speaks for the merchant whose connected integration holds its credentials; an
/// unknown user name, a wrong password and a disconnected integration are all refused alike.
pub fn accepts(integration: Option<Integration>) -> bool {
    integration.is_some_and(|i| i.connected && i.password_matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connected_integration_with_its_own_password_is_accepted() {
        let cases = [
            (None, false),
            (Some((true, true)), true),
            (Some((true, false)), false),
            (Some((false, true)), false),
            (Some((false, false)), false),
        ];
        for (facts, expected) in cases {
            let integration = facts.map(|(connected, password_matches)| Integration {
                connected,
                password_matches,
            });
            assert_eq!(accepts(integration), expected, "{integration:?}");
        }
    }
}
