//! The built `fulfillment-server` binary as a child process, listening on ports the kernel
//! picked (`--listen 127.0.0.1:0`): the test reads the addresses from what the server prints
//! once bound, so no port is ever guessed free and then raced for.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The first line the server prints once its gRPC listener is bound.
const LISTENING: &str = "fulfillment-server is listening on ";
/// The line it prints next, once the webhook listener is bound too.
const WEBHOOK: &str = "Intelipost webhook: POST ";
/// Start-up includes migrations and the demo data on a busy machine.
const START_WITHIN: Duration = Duration::from_secs(60);

/// The grpcurl the e2e tests drive: `$GRPCURL`, else the one `.ci/install-tools.sh` installs.
pub fn grpcurl() -> PathBuf {
    if let Ok(path) = std::env::var("GRPCURL") {
        return PathBuf::from(path);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/grpcurl");
    if local.exists() {
        return local;
    }
    panic!("grpcurl not found: run `bash .ci/install-tools.sh` (or set GRPCURL)");
}

/// Runs grpcurl with `args`: whether it succeeded, and stdout followed by stderr (grpcurl
/// prints its errors on stderr, and the tests assert on either).
pub fn run_grpcurl<I, S>(args: I) -> (bool, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(grpcurl())
        .args(args)
        .output()
        .expect("run grpcurl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The server binary with no arguments yet; [`ServerChild::start`] adds the listen addresses.
pub fn server_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
}

/// A running server binary; killed (and reaped) when dropped.
pub struct ServerChild {
    pub process: Child,
    /// The gRPC address it bound.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT/couriers/intelipost/trackings/v1` (https with TLS).
    pub webhook_url: String,
}

impl ServerChild {
    /// Spawns `command` listening on port 0 for both listeners, and waits until it has printed
    /// both addresses. Its stdout keeps being drained so the server never writes into a closed
    /// pipe.
    pub fn start(mut command: Command) -> Self {
        let mut process = command
            .args(["--listen", "127.0.0.1:0", "--webhook-listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fulfillment-server");
        let lines = stdout_lines(&mut process);
        let deadline = Instant::now() + START_WITHIN;
        let mut addr = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(LISTENING) {
                        addr = Some(parse_addr(rest));
                    } else if let Some(url) = line.strip_prefix(WEBHOOK) {
                        let addr = addr.expect("the webhook line came before the gRPC one");
                        return Self {
                            process,
                            addr,
                            webhook_url: url.to_owned(),
                        };
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = process.kill();
                    panic!("server did not start in time");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("server exited before listening: {:?}", process.try_wait())
                }
            }
        }
    }

    /// `http://ADDR`, for tonic clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The child's stdout, line by line, from a thread that reads it to the end.
fn stdout_lines(process: &mut Child) -> mpsc::Receiver<String> {
    let stdout = process.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Once the test has its addresses nobody listens: keep reading regardless.
            let _ = tx.send(line);
        }
    });
    rx
}

/// `127.0.0.1:PORT. Try:` (the grpcurl hint's first line, after its prefix).
fn parse_addr(rest: &str) -> SocketAddr {
    let addr = rest.split_once(". Try:").map_or(rest, |(addr, _)| addr);
    addr.parse()
        .unwrap_or_else(|e| panic!("unreadable listen address {addr:?}: {e}"))
}
