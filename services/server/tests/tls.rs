//! Issue 5: TLS and mutual TLS with rustls, and certificates replaced on disk taking effect
//! without a restart. Certificates are generated in the test.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TestServer;
use common::certs::{Ca, Leaf, write};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::policy_service_client::PolicyServiceClient;
use fulfillment_server::app::ServeOptions;
use fulfillment_server::tls::{ReloadingTls, TlsError, TlsFiles};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A fresh connection to the server trusting `ca`, optionally presenting `client`, then one
/// GetPolicy call over it.
async fn get_policy(
    addr: std::net::SocketAddr,
    ca: &Ca,
    client: Option<&Leaf>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.pem()))
        .domain_name("localhost");
    if let Some(leaf) = client {
        tls = tls.identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem));
    }
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    PolicyServiceClient::new(channel)
        .get_policy(pb::GetPolicyRequest::default())
        .await
        .map(drop)
        .map_err(|e| format!("call: {e:?}"))
}

/// `result` failed the way `expected` says (a piece of the error's text: the TLS alert or
/// certificate verdict that decides it).
fn refused(result: Result<(), String>, expected: &str) {
    match result {
        Err(e) => assert!(e.contains(expected), "expected {expected:?}, got {e}"),
        Ok(()) => panic!("served; expected a refusal with {expected:?}"),
    }
}

fn install(dir: &Path, server: &Leaf) {
    // Key first, then certificate: a watcher tick in between sees a mismatched pair, fails,
    // and keeps serving the previous one until the certificate lands.
    write(dir, "server.key", &server.key_pem);
    write(dir, "server.pem", &server.cert_pem);
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tls_serves_grpc_and_reloads_certificates_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ca1, ca2) = (Ca::new("CA one"), Ca::new("CA two"));
    install(dir.path(), &ca1.server());
    let tls = ReloadingTls::load(TlsFiles {
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server.key"),
        client_ca: None,
    })
    .unwrap();
    tls.spawn_watcher(Duration::from_millis(50));
    let s = TestServer::start_with(ServeOptions {
        tls: Some(tls.clone()),
        ..ServeOptions::default()
    })
    .await;

    get_policy(s.addr, &ca1, None).await.unwrap();
    // Trusting a CA it should not would have connected.
    refused(
        get_policy(s.addr, &ca2, None).await,
        "InvalidCertificate(UnknownIssuer)",
    );
    // A plaintext client gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect_lazy();
    let status = PolicyServiceClient::new(plain)
        .get_policy(pb::GetPolicyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::Unknown, "transport error"),
        "{status:?}"
    );

    // New certificate from another CA: new connections get it, no restart.
    install(dir.path(), &ca2.server());
    eventually("the CA-two certificate is served", async || {
        get_policy(s.addr, &ca2, None).await.is_ok()
    })
    .await;
    refused(
        get_policy(s.addr, &ca1, None).await,
        "InvalidCertificate(UnknownIssuer)",
    );

    // A broken update is refused and the last good certificate stays.
    write(
        dir.path(),
        "server.pem",
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    );
    // Checked here rather than after a guessed sleep: once this returns, the broken files have
    // been tried (by this call, or by the watcher if it came first: then nothing has changed
    // since, and the answer is "no change").
    match tls.reload_if_changed() {
        Err(e) => assert!(
            matches!(e, TlsError::Pem { .. }) && e.to_string().contains("server.pem"),
            "{e}"
        ),
        Ok(reloaded) => assert!(!reloaded, "a broken certificate was put in use"),
    }
    get_policy(s.addr, &ca2, None).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Ca::new("server CA");
    let (client_ca, rogue_ca) = (Ca::new("client CA"), Ca::new("rogue CA"));
    install(dir.path(), &server_ca.server());
    let client_ca_path = write(dir.path(), "client-ca.pem", &client_ca.pem());
    let tls = ReloadingTls::load(TlsFiles {
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server.key"),
        client_ca: Some(client_ca_path),
    })
    .unwrap();
    tls.spawn_watcher(Duration::from_millis(50));
    let s = TestServer::start_with(ServeOptions {
        tls: Some(tls),
        ..ServeOptions::default()
    })
    .await;

    let good = client_ca.client("order-pipeline");
    get_policy(s.addr, &server_ca, Some(&good)).await.unwrap();
    refused(
        get_policy(s.addr, &server_ca, None).await,
        "received fatal alert: CertificateRequired",
    );
    let rogue = rogue_ca.client("intruder");
    refused(
        get_policy(s.addr, &server_ca, Some(&rogue)).await,
        "received fatal alert: UnknownCA",
    );

    // Rotating the client CA: the rogue CA's clients are let in, the old ones no longer.
    write(dir.path(), "client-ca.pem", &rogue_ca.pem());
    eventually("the new client CA is trusted", async || {
        get_policy(s.addr, &server_ca, Some(&rogue)).await.is_ok()
    })
    .await;
    refused(
        get_policy(s.addr, &server_ca, Some(&good)).await,
        "received fatal alert: UnknownCA",
    );
    s.stop().await;
}
