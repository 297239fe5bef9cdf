//! Captures every `tracing` event and span field emitted on this thread, so a test can check
//! that no credential reaches a log line. `#[tokio::test]` runs on one thread, so a
//! thread-local default subscriber sees everything the client under test logs.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::{Debug, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Metadata, Subscriber};

/// The captured text, one line per event.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<String>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

struct Capture {
    out: Captured,
    next_id: AtomicU64,
}

struct Visitor<'a>(&'a mut String);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut out = self.out.0.lock().unwrap();
        span.record(&mut Visitor(&mut out));
        out.push('\n');
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut out = self.out.0.lock().unwrap();
        values.record(&mut Visitor(&mut out));
        out.push('\n');
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut out = self.out.0.lock().unwrap();
        let _ = write!(
            out,
            "{} {}: ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Visitor(&mut out));
        out.push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Starts capturing on this thread until the guard drops.
pub fn capture() -> (Captured, DefaultGuard) {
    let out = Captured::default();
    let guard = tracing::subscriber::set_default(Capture {
        out: out.clone(),
        next_id: AtomicU64::new(0),
    });
    (out, guard)
}
