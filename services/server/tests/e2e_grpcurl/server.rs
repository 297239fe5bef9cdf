//! The server binary as the e2e tests start it (`--demo`, port 0), and grpcurl calls to it.

use std::process::Stdio;

use serde_json::Value;

use crate::common::child::{ServerChild, run_grpcurl, server_command};

/// `grpcurl TRANSPORT OPTIONS ADDR COMMAND...`: success, and stdout with stderr.
pub fn grpcurl_call(
    addr: &str,
    transport: &[String],
    options: &[&str],
    command: &[&str],
) -> (bool, String) {
    let args = transport.iter().map(String::as_str);
    run_grpcurl(
        args.chain(options.iter().copied())
            .chain([addr])
            .chain(command.iter().copied()),
    )
}

pub struct Server {
    pub child: ServerChild,
    pub addr: String,
    /// `http://127.0.0.1:PORT/couriers/intelipost/trackings/v1` (https with TLS).
    pub webhook_url: String,
    /// How grpcurl reaches this server: `-plaintext`, or the TLS files.
    pub transport: Vec<String>,
}

impl Server {
    pub fn start(database_url: &str) -> Self {
        Self::start_with(
            database_url,
            &[],
            &[],
            vec!["-plaintext".into()],
            Stdio::inherit(),
        )
    }

    /// Starts the binary with `--demo` and `extra` arguments; waits until it listens.
    pub fn start_with(
        database_url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        transport: Vec<String>,
        stderr: Stdio,
    ) -> Self {
        let mut command = server_command();
        command
            .arg("--demo")
            .args(extra)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stderr(stderr);
        let child = ServerChild::start(command);
        Self {
            addr: child.addr.to_string(),
            webhook_url: child.webhook_url.clone(),
            child,
            transport,
        }
    }

    pub fn call(&self, options: &[&str], command: &[&str]) -> (bool, String) {
        grpcurl_call(&self.addr, &self.transport, options, command)
    }

    pub fn json(&self, method: &str, body: &str) -> Value {
        let (ok, text) = self.call(&["-d", body], &[method]);
        assert!(ok, "{method} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}"))
    }
}
