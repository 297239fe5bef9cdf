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

/// A demo order to whom, of what, how long ago released; not Wish Express, not A+.
fn order(
    id: &'static str,
    merchant: &'static str,
    age: Duration,
    to: Address,
    product: &'static str,
) -> DemoOrder {
    DemoOrder {
        id,
        merchant,
        age,
        wish_express: false,
        aplus: false,
        to,
        product,
    }
}

/// Where the demo's A+ order ships (R18).
fn warehouse() -> Address {
    address(
        "A+ Warehouse",
        "88 Logistics Rd",
        "Shenzhen",
        "518000",
        "CN",
    )
}

/// The demo's Brazilian buyer.
fn bruno() -> Address {
    address(
        "Bruno Costa",
        "Rua Augusta 500",
        "São Paulo",
        "01304-000",
        "BR",
    )
}

impl DemoOrder {
    fn wish_express(self) -> Self {
        DemoOrder {
            wish_express: true,
            ..self
        }
    }

    fn aplus(self) -> Self {
        DemoOrder {
            aplus: true,
            ..self
        }
    }
}

/// The demo's orders: combinable (R10), too far apart, near their deadline, Wish Express, A+,
/// Brazilian (one to be stuck, R13) and Polish.
// A table, one order a line: rustfmt would give each order a block of its own.
#[rustfmt::skip]
fn demo_orders() -> [DemoOrder; 9] {
    let alice = address("Alice Smith", "1 Main St", "Springfield", "12345", "US");
    // The same address written differently: still combinable (R10 ignores case and spacing).
    let alice_again = address("ALICE SMITH", "1  main st", "springfield", "12345", "US");
    let chen = address("Chen Wei", "12 Nanjing Rd", "Shanghai", "200001", "CN");
    let dana = address("Dana White", "9 Elm St", "Portland", "97201", "US");
    let eve = address("Eve Martin", "4 Rue Verte", "Lyon", "69001", "FR");
    let jan = address("Jan Kowalski", "ul. Floriańska 3", "Kraków", "31-019", "PL");
    let bruno = bruno();
    let (shenzhen, sao_paulo) = ("m-shenzhen", "m-saopaulo");
    let (days, hours) = (Duration::days, Duration::hours);
    [
        order("o-fresh-1", shenzhen, hours(2), alice.clone(), "USB-C cable"),
        order("o-fresh-2", shenzhen, days(2), alice_again, "Phone case"),
        order("o-far-apart", shenzhen, days(7) + hours(1), alice, "Screen protector"),
        order("o-near-deadline", shenzhen, days(4) + hours(22), chen, "Desk lamp"),
        order("o-wish-express", shenzhen, days(1), dana, "Headphones").wish_express(),
        order("o-aplus", shenzhen, days(1), eve, "Smart watch").aplus(),
        order("o-br-1", sao_paulo, hours(5), bruno.clone(), "Havaianas"),
        order("o-br-2", sao_paulo, days(1), bruno, "Coffee beans"),
        order("o-pl-1", "m-krakow", days(3), jan, "Amber necklace"),
    ]
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
    let warehouse = warehouse();
    let actor = Actor("demo".into());
    let mut created = 0;
    for o in demo_orders() {
        let (id, merchant) = (o.id, o.merchant);
        let was_created = release_demo_order(conn, now, policy, &actor, o, &warehouse)?;
        created += usize::from(was_created);
        // R13: shipped through Intelipost with its NF-e number while the merchant's Intelipost
        // account is not connected, so no scan can arrive: the README's ListStuckTrackings
        // example for m-saopaulo has an answer. Only when just released, so a reload is a no-op.
        if was_created && id == STUCK_INTELIPOST_ORDER {
            ship_stuck_order(conn, now, policy, &actor, (id, merchant))?;
        }
    }
    Ok(DemoSummary {
        merchants: merchants.len(),
        orders_created: created,
    })
}

/// Releases one demo order (R1); `true` when it was created.
fn release_demo_order(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    o: DemoOrder,
    warehouse: &Address,
) -> ServiceResult<bool> {
    let (shipping, customer) = if o.aplus {
        (warehouse.clone(), Some(o.to))
    } else {
        (o.to, None)
    };
    let (_, was_created) = release_order(
        conn,
        now,
        policy,
        actor,
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
    Ok(was_created)
}

/// Ships the stuck Intelipost order with its NF-e number (R12, R13).
fn ship_stuck_order(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    (id, merchant): (&str, &str),
) -> ServiceResult<()> {
    let request = ShipRequest {
        merchant_id: merchant.into(),
        order_ids: vec![id.into()],
        tracking: TrackingInput {
            tracking_number: "352817".into(),
            carrier: INTELIPOST.into(),
            origin_country: "BR".into(),
            channel: Channel::Api,
        },
        mode: ShipMode::Fulfil,
    };
    ship(conn, now, policy, actor, &request)?;
    Ok(())
}
