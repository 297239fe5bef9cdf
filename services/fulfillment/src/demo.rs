//! Sample merchants and orders for `fulfillment-server --demo`, relative to now so deadlines are
//! meaningful. Loading twice changes nothing (release is idempotent on the order id).

use chrono::{DateTime, Duration, Utc};
use diesel::PgConnection;
use fulfillment_core::ServiceResult;
use fulfillment_core::models::Address;
use fulfillment_policy::values::Policy;

use fulfillment_policy::tracking_number::{Channel, INTELIPOST};

use crate::input::{Actor, ReleaseInput, TrackingInput};
use crate::merchants::upsert_merchant;
use crate::release::release_order;
use crate::ship::{ShipMode, ShipRequest, ship};

/// The demo's stuck Intelipost order (R13).
pub const STUCK_INTELIPOST_ORDER: &str = "o-br-2";

pub struct DemoSummary {
    pub merchants: usize,
    pub orders_created: usize,
}

fn address(name: &str, street: &str, city: &str, zipcode: &str, country: &str) -> Address {
    Address {
        name: name.into(),
        street_address1: street.into(),
        city: city.into(),
        zipcode: zipcode.into(),
        country: country.into(),
        ..Address::default()
    }
}

struct DemoOrder {
    id: &'static str,
    merchant: &'static str,
    age: Duration,
    wish_express: bool,
    aplus: bool,
    to: Address,
    product: &'static str,
}

pub fn load_demo_data(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
) -> ServiceResult<DemoSummary> {
    let merchants = [
        ("m-shenzhen", "Shenzhen Gadgets Co.", "CN"),
        ("m-saopaulo", "Loja São Paulo", "BR"),
        ("m-krakow", "Kraków Crafts", "PL"),
    ];
    for (id, name, country) in merchants {
        upsert_merchant(conn, now, id, name, country)?;
    }
    let alice = address("Alice Smith", "1 Main St", "Springfield", "12345", "US");
    // The same address written differently: still combinable (R10 ignores case and spacing).
    let alice_again = address("ALICE SMITH", "1  main st", "springfield", "12345", "US");
    let bruno = address(
        "Bruno Costa",
        "Rua Augusta 500",
        "São Paulo",
        "01304-000",
        "BR",
    );
    let warehouse = address(
        "A+ Warehouse",
        "88 Logistics Rd",
        "Shenzhen",
        "518000",
        "CN",
    );
    let orders = [
        DemoOrder {
            id: "o-fresh-1",
            merchant: "m-shenzhen",
            age: Duration::hours(2),
            wish_express: false,
            aplus: false,
            to: alice.clone(),
            product: "USB-C cable",
        },
        DemoOrder {
            id: "o-fresh-2",
            merchant: "m-shenzhen",
            age: Duration::days(2),
            wish_express: false,
            aplus: false,
            to: alice_again,
            product: "Phone case",
        },
        DemoOrder {
            id: "o-far-apart",
            merchant: "m-shenzhen",
            age: Duration::days(7) + Duration::hours(1),
            wish_express: false,
            aplus: false,
            to: alice,
            product: "Screen protector",
        },
        DemoOrder {
            id: "o-near-deadline",
            merchant: "m-shenzhen",
            age: Duration::days(4) + Duration::hours(22),
            wish_express: false,
            aplus: false,
            to: address("Chen Wei", "12 Nanjing Rd", "Shanghai", "200001", "CN"),
            product: "Desk lamp",
        },
        DemoOrder {
            id: "o-wish-express",
            merchant: "m-shenzhen",
            age: Duration::days(1),
            wish_express: true,
            aplus: false,
            to: address("Dana White", "9 Elm St", "Portland", "97201", "US"),
            product: "Headphones",
        },
        DemoOrder {
            id: "o-aplus",
            merchant: "m-shenzhen",
            age: Duration::days(1),
            wish_express: false,
            aplus: true,
            to: address("Eve Martin", "4 Rue Verte", "Lyon", "69001", "FR"),
            product: "Smart watch",
        },
        DemoOrder {
            id: "o-br-1",
            merchant: "m-saopaulo",
            age: Duration::hours(5),
            wish_express: false,
            aplus: false,
            to: bruno.clone(),
            product: "Havaianas",
        },
        DemoOrder {
            id: "o-br-2",
            merchant: "m-saopaulo",
            age: Duration::days(1),
            wish_express: false,
            aplus: false,
            to: bruno,
            product: "Coffee beans",
        },
        DemoOrder {
            id: "o-pl-1",
            merchant: "m-krakow",
            age: Duration::days(3),
            wish_express: false,
            aplus: false,
            to: address("Jan Kowalski", "ul. Floriańska 3", "Kraków", "31-019", "PL"),
            product: "Amber necklace",
        },
    ];
    let actor = Actor("demo".into());
    let mut created = 0;
    for o in orders {
        let (shipping, customer) = if o.aplus {
            (warehouse.clone(), Some(o.to))
        } else {
            (o.to, None)
        };
        let (_, was_created) = release_order(
            conn,
            now,
            policy,
            &actor,
            &ReleaseInput {
                order_id: o.id.into(),
                merchant_id: o.merchant.into(),
                released_at: Some(now - o.age),
                is_wish_express: o.wish_express,
                is_advanced_logistics: o.aplus,
                shipping_detail: Some(shipping),
                customer_shipping_detail: customer,
                product_id: format!("p-{}", o.id),
                product_name: o.product.into(),
                quantity: 1,
            },
        )?;
        created += usize::from(was_created);
        // R13: shipped through Intelipost with its NF-e number while the merchant's Intelipost
        // account is not connected, so no scan can arrive: the README's ListStuckTrackings
        // example for m-saopaulo has an answer. Only when just released, so a reload is a no-op.
        if was_created && o.id == STUCK_INTELIPOST_ORDER {
            ship(
                conn,
                now,
                policy,
                &actor,
                &ShipRequest {
                    merchant_id: o.merchant.into(),
                    order_ids: vec![o.id.into()],
                    tracking: TrackingInput {
                        tracking_number: "352817".into(),
                        carrier: INTELIPOST.into(),
                        origin_country: "BR".into(),
                        channel: Channel::Api,
                    },
                    mode: ShipMode::Fulfil,
                },
            )?;
        }
    }
    Ok(DemoSummary {
        merchants: merchants.len(),
        orders_created: created,
    })
}
