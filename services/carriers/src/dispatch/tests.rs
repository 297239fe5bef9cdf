use std::time::Duration;

use super::*;

#[test]
fn secrets_never_print() {
    let secret = Secret::new("hunter2");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(secret.expose(), "hunter2");
    assert!(Secret::new("  ").is_empty());
}

#[test]
fn base64_round_trips_known_values() {
    assert_eq!(decode_base64("").unwrap(), b"");
    assert_eq!(decode_base64("Zg==").unwrap(), b"f");
    assert_eq!(decode_base64("Zm8=").unwrap(), b"fo");
    assert_eq!(decode_base64("Zm9v").unwrap(), b"foo");
    assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob");
    assert_eq!(decode_base64("Zm9v\r\nYmFy").unwrap(), b"foobar");
    assert_eq!(decode_base64("JVBERi0=").unwrap(), b"%PDF-");
    assert!(decode_base64("Zm9v!").is_err());
    assert!(decode_base64("Z").is_err());
    assert!(decode_base64("Zg=a").is_err());
}

#[test]
fn names_and_phones() {
    assert_eq!(
        split_name(" Jan  Maria Kowalska "),
        ("Jan Maria".into(), "Kowalska".into())
    );
    assert_eq!(split_name("Cher"), (String::new(), "Cher".into()));
    assert_eq!(split_name(""), (String::new(), String::new()));
    assert_eq!(national_phone("+48 501-202-303"), "501202303");
    assert_eq!(national_phone("0048501202303"), "501202303");
    assert_eq!(national_phone("501 202 303"), "501202303");
}

#[test]
fn labels_must_be_pdf() {
    let label = Label::pdf(b"%PDF-1.4 x".to_vec()).unwrap();
    assert_eq!(label.content_type, "application/pdf");
    assert_eq!(
        format!("{label:?}"),
        r#"Label { content_type: "application/pdf", bytes: 10 }"#
    );
    assert!(matches!(
        Label::pdf(b"<html>".to_vec()),
        Err(DispatchError::Malformed(_))
    ));
}

#[test]
fn errors_describe_themselves_without_secrets() {
    let err = DispatchError::Validation(vec![
        FieldError::new("receiver.phone", "invalid for key sk-1"),
        FieldError::new("target_point", "required"),
    ])
    .redact(&["sk-1", ""]);
    assert_eq!(
        err.to_string(),
        "the shipment data was rejected: receiver.phone: invalid for key [redacted]; target_point: required"
    );
    assert!(
        DispatchError::CredentialsRejected
            .to_string()
            .contains("must fix them")
    );
    assert_eq!(
        DispatchError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
        .to_string(),
        "rate limited by the carrier (retry after 7s)"
    );
    assert!(DispatchError::Timeout.is_transient());
    assert!(
        DispatchError::Pending {
            carrier_shipment_id: "1".into()
        }
        .is_transient()
    );
    assert!(!DispatchError::CredentialsRejected.is_transient());
    assert!(DispatchError::CredentialsRejected.needs_new_credentials());
    assert!(!DispatchError::LabelGone.is_transient());
}

struct Nothing;

#[async_trait]
impl Dispatcher for Nothing {
    fn carrier(&self) -> &str {
        "nothing"
    }
    async fn create_shipment(
        &self,
        _req: &ShipmentRequest,
    ) -> Result<CreatedShipment, DispatchError> {
        Err(DispatchError::Refused("nothing to send".into()))
    }
    async fn fetch_label(&self, _shipment: &ShipmentRef) -> Result<Label, DispatchError> {
        Err(DispatchError::LabelGone)
    }
}

#[test]
fn cancel_is_unsupported_by_default() {
    let shipment = ShipmentRef::new("1", "2", "3");
    let result = block_on(Nothing.cancel(&shipment));
    assert_eq!(
        result,
        Err(DispatchError::Unsupported {
            operation: "cancel"
        })
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "the carrier does not support cancel"
    );
}

/// A minimal executor for the test above.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
