//! Carrier dispatch (R19, R20): a merchant's carrier accounts (their sealed secrets), the
//! shipments created with them and their labels. Knows nothing of gRPC.
//!
//! Arrows: depends on `fulfillment-orders` (an order a carrier accepted is shipped through the
//! `FulfillOrder` path, R3), `fulfillment-carriers` (the carriers' clients), `fulfillment-core`
//! and `fulfillment-policy`. Nothing below it may depend on it: not orders, not tracking; and it
//! must not depend on `fulfillment-proto` (only the server does).

pub mod carrier_accounts;
pub mod dispatch;
