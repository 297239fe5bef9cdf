//! Issue 19.1: a NUL character (PostgreSQL stores none, in text or jsonb) in any string field of
//! any request is the caller's fault. Walked from the descriptors, so a field added tomorrow is
//! covered without touching this test: every string reachable in every request message (nested
//! messages, repeated fields, map values) is sent alone with a NUL in it, and must come back
//! INVALID_ARGUMENT naming that field.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;
use common::raw::{self, call};
use prost::Message;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};
use tonic::transport::Channel;
use tonic_types::StatusExt;

const WITH_NUL: &str = "a\u{0}b";

/// Every string field path of `message` (as `BadRequest` names it) with a message that holds a
/// NUL there and nothing else. Depth-limited: the contract has recursive-looking nests only
/// through well-known types.
fn cases(message: &MessageDescriptor, depth: usize) -> Vec<(String, DynamicMessage)> {
    let mut out = Vec::new();
    if depth > 4 {
        return out;
    }
    for field in message.fields() {
        for (path, value) in values(&field, depth) {
            let mut m = DynamicMessage::new(message.clone());
            m.set_field(&field, value);
            out.push((path, m));
        }
    }
    out
}

/// The values of `field` that carry a NUL, with the path to it below this field.
fn values(field: &FieldDescriptor, depth: usize) -> Vec<(String, Value)> {
    let name = field.name().to_owned();
    let single: Vec<(String, Value)> = match field.kind() {
        Kind::String => vec![(String::new(), Value::String(WITH_NUL.into()))],
        Kind::Message(inner) if !field.is_map() => cases(&inner, depth + 1)
            .into_iter()
            .map(|(p, m)| (format!(".{p}"), Value::Message(m)))
            .collect(),
        Kind::Message(entry) => {
            // A map<string, X>: the key, and every string inside the value.
            let key = entry.map_entry_key_field();
            let value = entry.map_entry_value_field();
            let mut out = Vec::new();
            if key.kind() == Kind::String {
                out.push((
                    String::new(),
                    Value::Map([(MapKey::String(WITH_NUL.into()), value.default_value())].into()),
                ));
                for (p, v) in values(&value, depth + 1) {
                    let p = p.trim_start_matches(value.name());
                    out.push((
                        format!("[\"k\"]{p}"),
                        Value::Map([(MapKey::String("k".into()), v)].into()),
                    ));
                }
            }
            return out
                .into_iter()
                .map(|(p, v)| (format!("{name}{p}"), v))
                .collect();
        }
        _ => vec![],
    };
    single
        .into_iter()
        .map(|(p, v)| {
            if field.is_list() {
                (format!("{name}[0]{p}"), Value::List(vec![v]))
            } else {
                (format!("{name}{p}"), v)
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_any_string_field_of_any_request_is_invalid_argument_naming_the_field() {
    let s = TestServer::start().await;
    let channel = Channel::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect_lazy();
    let pool =
        prost_reflect::DescriptorPool::decode(fulfillment_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut checked = 0;
    for method in raw::methods() {
        let (service, name) = method.path[1..].split_once('/').unwrap();
        let input = pool
            .get_service_by_name(service)
            .unwrap()
            .methods()
            .find(|m| m.name() == name)
            .unwrap()
            .input();
        for (path, message) in cases(&input, 0) {
            let status = call(&channel, &method, None, message.encode_to_vec())
                .await
                .expect_err(&format!("{} accepted a NUL in {path}", method.name));
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{} {path}: {status:?}",
                method.name
            );
            let details = status.get_error_details();
            assert_eq!(
                details.error_info().map(|i| i.reason.as_str()),
                Some(fulfillment_proto::text_guard::REASON),
                "{} {path}",
                method.name
            );
            let fields: Vec<_> = details
                .bad_request()
                .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
                .unwrap_or_default();
            assert_eq!(fields, [path], "{}", method.name);
            checked += 1;
        }
    }
    eprintln!("{checked} string fields refused with a NUL");
    assert!(checked > 100, "only {checked} string fields found");
    s.stop().await;
}
