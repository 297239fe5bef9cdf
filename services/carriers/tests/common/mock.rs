//! The mock-server helpers both test helper modules (`common`, `dispatch_common`) share.
#![allow(dead_code)]

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

/// Answers `verb at` on `server` with `answer`, expecting exactly `times` calls.
pub async fn mount(
    server: &MockServer,
    verb: &str,
    at: &str,
    answer: ResponseTemplate,
    times: u64,
) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}
