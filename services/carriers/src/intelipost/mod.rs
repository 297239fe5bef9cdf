//! Intelipost (BR): a TMS that tracks shipments across Brazilian carriers and reports each
//! volume's history in its own macro states.
//!
//! Our tracking number for Intelipost is the NF-e (invoice) number, digits only: that is what
//! the merchant knows when it ships. The polling client looks the shipment order up by it,
//! `GET {base}/api/v1/shipment_order/invoice/{invoice_number}` with the `api-key` header, which
//! answers the same envelope as `GET /api/v1/shipment_order/{order_number}`:
//! `{"status":"OK","messages":[],"content":...}` where `content` is the shipment order (or a
//! list of them), whose `shipment_order_volume_array[]` carries
//! `shipment_order_volume_invoice.invoice_number` and
//! `shipment_order_volume_state_history_array[]`. Only the volumes of our invoice are read
//! (all of them when no volume names an invoice). Errors are
//! `{"status":"ERROR","messages":[{"type":"ERROR","text":...,"key":...}]}`.
//!
//! Intelipost also pushes each new history entry to a webhook (an event rule with "all macro
//! events"): [`webhook::parse_push`] reads that body. Both paths read a history entry the same
//! way, so a pushed event and the same event polled later have the same id
//! (`shipment_order_volume_state_history`) and R22 keeps one.
//!
//! Sources (repository, path, commit; none copied, our fixtures are written from them, see
//! `tests/fixtures/intelipost/README.md`):
//! - the push body: `magentando/sdk-php` (written by Intelipost staff) `examples/Webhook.php`
//!   @ `ea17038b0f2eedb64716706f956ddca0f95b2cb2` and its models
//!   `Intelipost/IntelipostModel/webhook.php`, `webhook_history.php`; Intelipost's .NET SDK
//!   `intelipost/sdk-dotnet` `Intelipost/Intelipost.API/Model/Tracking/Tracking.cs`,
//!   `History.cs` @ `45ad0ce834739f01a64bd563a6c9f267e5b71fb2` and
//!   `Model/ShipmentOrder/ShipmentOrderVolumeMicroState.cs`, `ShipmentOrderVolumeInvoice.cs`
//!   (`order_number`, `tracking_code`, `volume_number`, `invoice{invoice_number,
//!   invoice_series, invoice_key}`, `history{...}`, no sales channel);
//! - the macro states: Intelipost's Magento 2 module `intelipost/Magento2`
//!   `Controller/Webhook/Index.php` @ `0033c23e873c0df7addb0e8d46599ab8dbecdea7` and
//!   `Helper/Data.php` @ `e0f61bea5394cb7dfcb48ef36e2a95290c652962` (pre-dispatch `NEW`,
//!   `READY_FOR_SHIPPING`, `SHIPPED`; post-dispatch `IN_TRANSIT`, `TO_BE_DELIVERED`,
//!   `DELIVERED`, `CLARIFY_DELIVERY_FAIL`, `DELIVERY_FAILED`) and `intelipost/magento2-tracking`
//!   `Controller/Webhook/Webhook.php` @ `45f4cc3faeb9e75c2727f2c71d09dfa291c57cd0`;
//!   `CANCELLED` from Intelipost's documentation as the brief quotes it (not seen in a sample);
//! - the `shipment_order` answer: `intelipost/sdk-java` `src/test/resources/ShipmentOrder.json`
//!   and `response/Response.java` @ `36a778713c9f44bc0a5a26318a18d3a9bc882ae5`.
//!
//! Intelipost's own reference (<https://docs.intelipost.com.br/>) was not reachable from here:
//! the `ERROR` key for an unknown order (`shipmentOrder.notFound` in the fixtures) and the
//! `estimated_delivery_date` / `sales_order_number` / `tracking_url` fields of the push follow
//! the documentation page's field list as quoted to us, not a verified sample.

mod client;
mod history;
mod statuses;
#[cfg(test)]
mod tests;
pub mod webhook;

pub use client::{IntelipostClient, parse_answer};
pub use statuses::{MACRO_STATES, UNKNOWN_STATE_READ_AS, normalize};
use statuses::{known_state, read_unknown};
pub use webhook::{IntelipostPush, PushError, parse_push};

/// Our carrier code.
pub const CODE: &str = "intelipost";
/// Header carrying the Intelipost API key.
pub const API_KEY_HEADER: &str = "api-key";
