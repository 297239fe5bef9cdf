//! The Helm chart's worker CronJobs against the binaries this workspace builds (issue 10): the
//! chart is rendered with the real `helm` (all workers enabled), every CronJob's command must be
//! one of the six worker binaries, and each is run with the arguments and plain environment the
//! chart renders (secrets aside; `--dry-run` added unless rendered) against a fresh database. A
//! renamed binary, a flag the binary does not know, or an environment value it refuses fails here
//! before it fails in a cluster.
//!
//! Needs `.tools/bin/helm` and PyYAML in `.tools/python` (`bash .ci/install-tools.sh`), or `HELM`
//! naming a helm binary.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::prelude::*;
use fulfillment_core::schema::worker_runs;
use fulfillment_core::testing::TestDb;
use serde_json::Value;

/// Every worker binary of this crate, by the name a CronJob's command uses.
const WORKERS: [(&str, &str); 6] = [
    ("tracker-poller", env!("CARGO_BIN_EXE_tracker-poller")),
    (
        "cancellation-detector",
        env!("CARGO_BIN_EXE_cancellation-detector"),
    ),
    (
        "re-release-decider",
        env!("CARGO_BIN_EXE_re-release-decider"),
    ),
    ("aplus-reset", env!("CARGO_BIN_EXE_aplus-reset")),
    ("deadline-enforcer", env!("CARGO_BIN_EXE_deadline-enforcer")),
    ("merchant-notifier", env!("CARGO_BIN_EXE_merchant-notifier")),
];

/// Multi-document YAML on stdin to one JSON array on stdout (PyYAML from `.tools/python`).
const YAML_TO_JSON: &str =
    "import sys,yaml,json; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn helm() -> PathBuf {
    let helm = std::env::var_os("HELM")
        .filter(|h| !h.is_empty())
        .map_or_else(|| workspace().join(".tools/bin/helm"), PathBuf::from);
    assert!(
        helm.is_file(),
        "helm is not installed at {}: run `bash .ci/install-tools.sh` (it puts helm in \
         .tools/bin), or set HELM to a helm binary",
        helm.display()
    );
    helm
}

/// `helm template` of the chart with `set` values, as JSON objects.
fn render(set: &[String]) -> Vec<Value> {
    let mut helm = Command::new(helm());
    helm.arg("template")
        .arg("chart-test")
        .arg(workspace().join("helm/fulfillment"));
    for value in set {
        helm.arg("--set").arg(value);
    }
    let out = helm.output().unwrap();
    assert!(
        out.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_to_json(out.stdout)
}

fn yaml_to_json(yaml: Vec<u8>) -> Vec<Value> {
    let python = workspace().join(".tools/python");
    let mut child = Command::new("python3")
        .args(["-c", YAML_TO_JSON])
        .env("PYTHONPATH", &python)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&yaml));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "python3 could not turn the chart into JSON (PyYAML belongs in {}: run \
         `bash .ci/install-tools.sh`): {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A string array field of a container (`command`, `args`).
fn strings(container: &Value, field: &str) -> Vec<String> {
    container[field]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A CronJob's container as the test runs it.
struct Run {
    cronjob: String,
    binary: &'static str,
    path: &'static str,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    secret_env: BTreeSet<String>,
}

fn runs(objects: &[Value]) -> Vec<Run> {
    objects
        .iter()
        .filter(|o| o["kind"] == "CronJob")
        .map(|cronjob| {
            let name = cronjob["metadata"]["name"].as_str().unwrap().to_owned();
            let containers =
                cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap();
            assert_eq!(containers.len(), 1, "{name}: one container");
            let container = &containers[0];
            let command = strings(container, "command");
            let (binary, path) = WORKERS
                .iter()
                .find(|(binary, _)| command.first().is_some_and(|c| c == binary))
                .copied()
                .unwrap_or_else(|| {
                    panic!(
                        "CronJob {name} runs {command:?}, which is not a worker binary of this \
                         workspace (one of {:?})",
                        WORKERS.map(|(b, _)| b)
                    )
                });
            assert_eq!(
                command.len(),
                1,
                "{name}: flags belong in args: {command:?}"
            );
            let args = strings(container, "args");
            let mut env = BTreeMap::new();
            let mut secret_env = BTreeSet::new();
            for var in container["env"].as_array().into_iter().flatten() {
                let var_name = var["name"].as_str().unwrap().to_owned();
                if let Some(value) = var.get("value") {
                    env.insert(var_name, value.as_str().unwrap().to_owned());
                } else if var["valueFrom"].get("secretKeyRef").is_some() {
                    secret_env.insert(var_name);
                } else {
                    panic!("{name}: env {var_name} has neither a value nor a Secret: {var}");
                }
            }
            Run {
                cronjob: name,
                binary,
                path,
                args,
                env,
                secret_env,
            }
        })
        .collect()
}

/// What the chart renders for `run`: one-shot, the database URL from the Secret, the
/// deadline-enforcer a dry run by its values, the poller's carrier settings.
fn assert_rendered(run: &Run) {
    let Run {
        cronjob,
        binary,
        args,
        env,
        secret_env,
        ..
    } = run;
    assert!(
        !args.iter().any(|a| a.starts_with("--schedule")),
        "{cronjob}: a CronJob run is one-shot, not a --schedule daemon: {args:?}"
    );
    assert!(
        secret_env.contains("DATABASE_URL") && !env.contains_key("DATABASE_URL"),
        "{cronjob}: DATABASE_URL must come from the Secret"
    );
    if *binary == "deadline-enforcer" {
        assert!(args.iter().any(|a| a == "--dry-run"), "{cronjob}: {args:?}");
    }
    if *binary == "tracker-poller" {
        assert_eq!(
            env.get("FULFILLMENT_CARRIER_INPOST_URL")
                .map(String::as_str),
            Some("http://127.0.0.1:9")
        );
        assert!(secret_env.contains("FULFILLMENT_CARRIER_INPOST_API_KEY"));
    }
}

/// Runs `run`'s binary as its container would (as a dry run) against `db`: one summary line.
fn assert_runs_as_rendered(run: &Run, db: &TestDb) {
    let Run {
        cronjob,
        binary,
        path,
        args,
        env,
        ..
    } = run;
    let mut args = args.clone();
    if !args.iter().any(|a| a == "--dry-run") {
        args.push("--dry-run".to_owned());
    }
    // The container's environment: what the chart renders, the Secret's database URL
    // replaced by the test database, nothing inherited from this process.
    let out = Command::new(path)
        .args(&args)
        .env_clear()
        .envs(env)
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cronjob}: `{binary} {}` failed ({}):\nstdout: {stdout}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{cronjob}: one summary line: {stdout:?}");
    let line = lines[0];
    assert!(
        line.starts_with(&format!("{binary}: claimed=0"))
            || line.starts_with(&format!("{binary} (dry run): would poll 0 trackings")),
        "{cronjob}: summary {line:?}"
    );
    assert!(line.contains("(dry run)"), "{cronjob}: summary {line:?}");
}

#[test]
fn every_worker_cronjob_runs_a_workspace_binary_with_its_rendered_arguments() {
    let mut set: Vec<String> = WORKERS
        .iter()
        .map(|(binary, _)| format!("workers.{binary}.enabled=true"))
        .collect();
    set.extend(
        [
            // One worker already a dry run by its values; the others get --dry-run added.
            "workers.deadline-enforcer.dryRun=true",
            // A carrier, so the poller's rendered carrier settings are exercised too (nothing
            // is due in a fresh database, so nothing calls it).
            "workers.tracker-poller.carriers.inpost.url=http://127.0.0.1:9",
            "workers.tracker-poller.carriers.inpost.timeoutMs=300",
            "workers.tracker-poller.carriers.inpost.apiKeySecretKey=carrier-inpost-api-key",
        ]
        .map(str::to_owned),
    );
    let runs = runs(&render(&set));

    let binaries: BTreeSet<&str> = runs.iter().map(|r| r.binary).collect();
    assert_eq!(
        binaries,
        WORKERS.iter().map(|(b, _)| *b).collect::<BTreeSet<_>>(),
        "one CronJob per worker binary"
    );
    assert_eq!(runs.len(), WORKERS.len(), "one CronJob per worker binary");

    let db = TestDb::new();
    for run in &runs {
        assert_rendered(run);
        assert_runs_as_rendered(run, &db);
    }

    // Each run was recorded, as a completed dry run.
    let recorded: Vec<(String, String, bool)> = worker_runs::table
        .select((
            worker_runs::worker,
            worker_runs::outcome,
            worker_runs::dry_run,
        ))
        .order(worker_runs::worker)
        .load(&mut db.conn())
        .unwrap();
    let mut expected: Vec<(String, String, bool)> = WORKERS
        .iter()
        .map(|(b, _)| ((*b).to_owned(), "completed".to_owned(), true))
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);
}
