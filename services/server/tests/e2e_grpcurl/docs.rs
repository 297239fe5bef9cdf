//! Issue 22.4: the commands README.md and docs/bulk.md show, run as written on the demo data.

use std::path::PathBuf;
use std::process::Command;

use fulfillment_core::testing::TestDb;
use serde_json::Value;

use crate::common::child::grpcurl;
use crate::server::Server;

/// The `sh` blocks of a Markdown file whose text contains `needle`, as commands: continuation
/// lines joined, each with the comment lines just above it.
fn documented_commands(file: &str, needle: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut commands = Vec::new();
    let mut blocks = text.split("```sh\n").skip(1);
    let block = blocks
        .find(|b| b.split("```").next().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{file}: no sh block with {needle}"));
    let (mut comment, mut command) = (String::new(), String::new());
    for line in block.split("```").next().unwrap().lines() {
        if command.is_empty() && (line.starts_with('#') || line.trim().is_empty()) {
            if line.trim().is_empty() {
                comment.clear();
            } else {
                comment.push_str(line);
                comment.push('\n');
            }
            continue;
        }
        // Kept as written: `sh` reads the trailing backslash as a continuation.
        command.push_str(line);
        command.push('\n');
        if !line.ends_with('\\') {
            commands.push((comment.clone(), std::mem::take(&mut command)));
        }
    }
    commands
}

/// Runs `command` as written (through `sh`, grpcurl on the PATH) against `server`.
fn run_as_written(server: &Server, dir: &std::path::Path, command: &str) -> (bool, String) {
    let grpcurl_dir = grpcurl().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        grpcurl_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-ec", &command.replace("127.0.0.1:50051", &server.addr)])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Issue 22.4: every grpcurl call in README's "Calling it" answers on the demo data as its
/// comment promises: success, except the one shown as bad input.
#[test]
fn every_readme_call_runs_as_written_on_the_demo_data() {
    let db = TestDb::new();
    let server = Server::start(db.url());
    let dir = tempfile::tempdir().unwrap();
    let commands = documented_commands("README.md", "ListOrdersToFulfill");
    let calls: Vec<_> = commands
        .iter()
        .filter(|(_, c)| c.starts_with("grpcurl"))
        .collect();
    assert!(calls.len() >= 10, "{commands:?}");
    for (comment, command) in calls {
        let (ok, out) = run_as_written(&server, dir.path(), command);
        if comment.contains("Bad input") {
            assert!(!ok, "{command}\n{out}");
            assert!(
                out.contains("InvalidArgument") && out.contains("tracking_number"),
                "{command}\n{out}"
            );
        } else {
            assert!(ok, "{comment}{command}\n{out}");
            assert!(
                !out.trim().is_empty() && out.trim() != "{}",
                "{command}\n{out}"
            );
        }
        if comment.contains("Refused") {
            assert!(out.contains("R10") && out.contains("o-far-apart"), "{out}");
        }
    }
}

/// Issue 22.4: docs/bulk.md's round trip, as written: export, upload, follow, download (the
/// `bulk-…` placeholder stands for the job the upload answered).
#[test]
fn the_bulk_guide_runs_as_written_on_the_demo_data() {
    let db = TestDb::new();
    let server = Server::start(db.url());
    let dir = tempfile::tempdir().unwrap();
    let commands = documented_commands("docs/bulk.md", "StartBulkFulfillment");
    assert_eq!(commands.len(), 5, "{commands:?}");
    let mut job_id = None::<String>;
    for (comment, command) in &commands {
        let command = match &job_id {
            Some(id) => command.replace("bulk-…", id),
            None => command.clone(),
        };
        if comment.contains("fill in") {
            fill_in(&dir.path().join("orders.csv"), "o-fresh-1");
        }
        let (ok, out) = run_as_written(&server, dir.path(), &command);
        assert!(ok, "{comment}{command}\n{out}");
        if command.contains("StartBulkFulfillment") {
            let answer: Value = serde_json::from_str(&out).unwrap();
            job_id = answer["job"]["id"].as_str().map(str::to_owned);
            assert!(job_id.is_some(), "{out}");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("orders.csv")).unwrap();
    assert!(csv.contains("LX123456789CN"), "{csv}");
    let results = run_as_written(
        &server,
        dir.path(),
        &commands[4].1.replace("bulk-…", job_id.as_deref().unwrap()),
    )
    .1;
    assert!(results.contains("o-fresh-1"), "{results}");
}

/// What the merchant does between export and upload: carrier, tracking number and origin
/// country for one order, through the csv crate as a spreadsheet would write it.
fn fill_in(path: &std::path::Path, order_id: &str) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, carrier, number, origin) = (
        column("Order ID"),
        column("Carrier"),
        column("Tracking Number"),
        column("Origin Country"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if row[id] == order_id {
            row[carrier] = "wishpost".into();
            row[number] = "LX123456789CN".into();
            row[origin] = "CN".into();
        }
        rows.push(row);
    }
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(&headers).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}
