//! Where PostgreSQL is: `DATABASE_URL` if given; else a server on the local address if one
//! answers; else a private cluster started from the installed binaries, stopped when the last
//! process using it ends, however it ends (see [`users`]).

mod users;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;

const DEFAULT_LOCAL_ADDR: &str = "127.0.0.1:5432";
const DEFAULT_PORT: u16 = 54329;
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "no PostgreSQL server binaries found (initdb, pg_ctl): install them with `apt-get install postgresql` \
         (Debian/Ubuntu) or `brew install postgresql`, set FULFILLMENT_PG_BIN to their folder, or set DATABASE_URL"
    )]
    NoBinaries,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("the private PostgreSQL did not start: {0}")]
    StartTimeout(String),
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create database {name}: {source}")]
    CreateDatabase {
        name: String,
        #[source]
        source: diesel::result::Error,
    },
    #[error("cannot connect to {0}")]
    Connect(#[from] diesel::ConnectionError),
}

/// Where the bootstrap looks; `from_env` reads the documented environment variables.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    pub explicit_url: Option<String>,
    pub local_addr: String,
    pub bin_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub port: u16,
}

impl BootstrapConfig {
    pub fn from_env(explicit_url: Option<&str>) -> Self {
        Self {
            explicit_url: explicit_url.map(str::to_owned),
            local_addr: std::env::var("FULFILLMENT_LOCAL_PG_ADDR")
                .unwrap_or_else(|_| DEFAULT_LOCAL_ADDR.into()),
            bin_dir: std::env::var_os("FULFILLMENT_PG_BIN").map(PathBuf::from),
            data_dir: std::env::var_os("FULFILLMENT_PG_DIR").map(PathBuf::from),
            port: std::env::var("FULFILLMENT_PG_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_PORT),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgSource {
    Explicit,
    LocalServer(String),
    PrivateCluster {
        data_dir: PathBuf,
        port: u16,
        owned: bool,
    },
}

/// A resolved PostgreSQL server. Dropping it stops a private cluster this process started.
#[derive(Debug)]
pub struct PgTarget {
    base: String,
    explicit: Option<String>,
    source: PgSource,
    // Held for its Drop, which stops a cluster this process started.
    _cluster: Option<Cluster>,
}

impl PgTarget {
    pub fn resolve(explicit: Option<&str>) -> Result<Self, BootstrapError> {
        Self::resolve_with(&BootstrapConfig::from_env(explicit))
    }

    pub fn resolve_with(config: &BootstrapConfig) -> Result<Self, BootstrapError> {
        if let Some(url) = &config.explicit_url {
            tracing::info!("using DATABASE_URL");
            return Ok(Self {
                base: server_part(url).to_owned(),
                explicit: Some(url.clone()),
                source: PgSource::Explicit,
                _cluster: None,
            });
        }
        if answers(&config.local_addr) {
            tracing::info!(addr = %config.local_addr, "using the local PostgreSQL");
            return Ok(Self {
                base: format!("postgres://postgres@{}", config.local_addr),
                explicit: None,
                source: PgSource::LocalServer(config.local_addr.clone()),
                _cluster: None,
            });
        }
        tracing::warn!(addr = %config.local_addr, "no PostgreSQL answers; starting a private cluster");
        let cluster = Cluster::start(config)?;
        let source = PgSource::PrivateCluster {
            data_dir: cluster.data_dir.clone(),
            port: cluster.port,
            owned: cluster.owned,
        };
        Ok(Self {
            base: format!("postgres://postgres@127.0.0.1:{}", cluster.port),
            explicit: None,
            source,
            _cluster: Some(cluster),
        })
    }

    /// URL of database `dbname` on this server.
    pub fn database_url(&self, dbname: &str) -> String {
        let query = self
            .explicit
            .as_deref()
            .and_then(|u| u.split_once('?'))
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        format!("{}/{dbname}{query}", self.base)
    }

    /// The explicit URL, else database `fulfillment` on the resolved server.
    pub fn default_url(&self) -> String {
        self.explicit
            .clone()
            .unwrap_or_else(|| self.database_url("fulfillment"))
    }

    pub fn source(&self) -> PgSource {
        self.source.clone()
    }

    /// For fault tests: stops a private cluster's server (fast shutdown: every connection is
    /// cut), keeping its data and its users. Refused for a server this process did not find
    /// through the private-cluster path.
    pub fn stop_server(&self) -> Result<(), BootstrapError> {
        let cluster = self.private()?;
        let mut stop = cluster.pg_command("pg_ctl");
        stop.arg("-D")
            .arg(&cluster.data_dir)
            .args(["-m", "fast", "-w", "stop"]);
        cluster.run("pg_ctl stop", &mut stop)
    }

    /// For fault tests: starts a private cluster's server again after [`Self::stop_server`].
    pub fn start_server(&self) -> Result<(), BootstrapError> {
        self.private()?.launch()
    }

    fn private(&self) -> Result<&Cluster, BootstrapError> {
        self._cluster
            .as_ref()
            .ok_or_else(|| BootstrapError::Command {
                what: "pg_ctl".into(),
                detail: "not a private cluster".into(),
            })
    }
}

/// `postgres://user@host:port/db?x` -> `postgres://user@host:port`.
fn server_part(url: &str) -> &str {
    let without_query = url.split('?').next().unwrap_or(url);
    let after_scheme = without_query.find("://").map_or(0, |i| i + 3);
    match without_query[after_scheme..].find('/') {
        Some(i) => &without_query[..after_scheme + i],
        None => without_query,
    }
}

fn answers(addr: &str) -> bool {
    let Ok(addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a: SocketAddr| TcpStream::connect_timeout(&a, PROBE_TIMEOUT).is_ok())
}

/// Creates database `name` unless it exists; a concurrent creator counts as success.
pub fn create_database_if_missing(admin_url: &str, name: &str) -> Result<(), BootstrapError> {
    let mut conn = PgConnection::establish(admin_url)?;
    let exists: bool = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ",
    )
    .bind::<diesel::sql_types::Text, _>(name)
    .sql(")")
    .get_result(&mut conn)
    .map_err(|source| BootstrapError::CreateDatabase {
        name: name.into(),
        source,
    })?;
    if exists {
        return Ok(());
    }
    let quoted = name.replace('"', "\"\"");
    match diesel::sql_query(format!("CREATE DATABASE \"{quoted}\"")).execute(&mut conn) {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(kind, info))
            if matches!(kind, diesel::result::DatabaseErrorKind::UniqueViolation)
                || info.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(source) => Err(BootstrapError::CreateDatabase {
            name: name.into(),
            source,
        }),
    }
}

#[derive(Debug)]
struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    data_dir: PathBuf,
    port: u16,
    /// This process started it (it may have found it running instead).
    owned: bool,
    as_postgres: bool,
    /// Registered as a user: only then does dropping leave (and maybe stop) the cluster.
    joined: bool,
}

impl Cluster {
    fn start(config: &BootstrapConfig) -> Result<Self, BootstrapError> {
        let bin = find_binaries(config.bin_dir.as_deref()).ok_or(BootstrapError::NoBinaries)?;
        let as_postgres = is_root();
        let root = match &config.data_dir {
            Some(dir) => dir.clone(),
            None => default_root(as_postgres),
        };
        let data_dir = root.join("data");
        std::fs::create_dir_all(&root).map_err(|source| BootstrapError::Io {
            path: root.clone(),
            source,
        })?;
        let mut cluster = Self {
            bin,
            root: root.clone(),
            data_dir,
            port: config.port,
            owned: false,
            as_postgres,
            joined: false,
        };
        if as_postgres {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
            cluster.run(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&root),
            )?;
        }
        let io_error = |source| BootstrapError::Io {
            path: root.join("lock"),
            source,
        };
        // Declared after `cluster`, so it is released before `cluster` drops on an error path.
        let lock = users::RootLock::acquire(&root).map_err(io_error)?;
        users::join(&lock, &root).map_err(io_error)?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %cluster.data_dir.display(), "initialising a private PostgreSQL cluster");
            let mut initdb = cluster.pg_command("initdb");
            initdb.arg("-D").arg(&cluster.data_dir).args([
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-sync",
            ]);
            cluster.run("initdb", &mut initdb)?;
        }
        let addr = format!("127.0.0.1:{}", cluster.port);
        if cluster.data_dir.join("postmaster.pid").exists() && answers(&addr) {
            tracing::info!(%addr, "reusing the private PostgreSQL another process started");
            users::ensure_watcher(&lock, &root, &cluster.stop_command()).map_err(io_error)?;
            cluster.joined = true;
            return Ok(cluster);
        }
        cluster.launch()?;
        tracing::info!(%addr, "private PostgreSQL started");
        users::ensure_watcher(&lock, &root, &cluster.stop_command()).map_err(io_error)?;
        cluster.owned = true;
        cluster.joined = true;
        Ok(cluster)
    }

    /// `pg_ctl start`, then waits until the server answers.
    fn launch(&self) -> Result<(), BootstrapError> {
        let addr = format!("127.0.0.1:{}", self.port);
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.data_dir.display()
        );
        let log = self.data_dir.join("server.log");
        let mut start = self.pg_command("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        if let Err(e) = self.run("pg_ctl start", &mut start) {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: String = tail
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(BootstrapError::StartTimeout(format!("{e}\n{tail}")));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(&addr) {
            if Instant::now() > deadline {
                return Err(BootstrapError::StartTimeout(format!(
                    "nothing answers on {addr}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `pg_ctl stop`, as the user the cluster runs as, for the watcher.
    fn stop_command(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if self.as_postgres {
            args.extend(["runuser", "-u", "postgres", "--"].map(Into::into));
        }
        args.push(self.bin.join("pg_ctl").into());
        args.extend(["-D".into(), self.data_dir.clone().into()]);
        args.extend(["-m", "fast", "-w", "stop"].map(Into::into));
        args
    }

    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run(&self, what: &str, cmd: &mut Command) -> Result<(), BootstrapError> {
        let output = cmd.output().map_err(|e| BootstrapError::Command {
            what: what.into(),
            detail: e.to_string(),
        })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(BootstrapError::Command {
                what: what.into(),
                detail: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
        }
    }
}

impl Drop for Cluster {
    /// The last user out stops the cluster at once; the watcher covers those that never drop.
    fn drop(&mut self) {
        if !self.joined {
            return;
        }
        let lock = match users::RootLock::acquire(&self.root) {
            Ok(lock) => lock,
            Err(e) => {
                tracing::warn!(error = %e, "cannot lock the private PostgreSQL; its watcher will stop it");
                return;
            }
        };
        if users::leave(&lock, &self.root) {
            tracing::info!("the private PostgreSQL stays up for the other processes using it");
            return;
        }
        let mut stop = self.pg_command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"]);
        match self.run("pg_ctl stop", &mut stop) {
            Ok(()) => tracing::info!("private PostgreSQL stopped"),
            Err(e) => tracing::warn!(error = %e, "could not stop the private PostgreSQL"),
        }
    }
}

fn find_binaries(explicit: Option<&Path>) -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = explicit {
        return has_tools(dir).then(|| dir.to_path_buf());
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| has_tools(dir)))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// `target/pg-embedded`, unless the postgres user could not reach it (e.g. under /root, mode
/// 700): then a folder in /tmp named after the target folder.
fn default_root(as_postgres: bool) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()?
                .ancestors()
                .find(|p| p.file_name().is_some_and(|n| n == "target"))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    let preferred = target.join("pg-embedded");
    if as_postgres && !traversable_by_others(&preferred) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        target.hash(&mut hasher);
        let fallback = std::env::temp_dir().join(format!("fulfillment-pg-{:x}", hasher.finish()));
        tracing::info!(dir = %fallback.display(), "the postgres user cannot reach target/; using a folder in /tmp");
        return fallback;
    }
    preferred
}

fn traversable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .ancestors()
        .skip(1)
        .filter(|p| p.exists())
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The database every binary uses: `explicit` (from `DATABASE_URL`) as given, else the
/// `fulfillment` database of the embedded default, created if missing. Keep the target alive
/// as long as the database is used: dropping it stops a private cluster this process started.
pub fn resolve_database(explicit: Option<&str>) -> Result<(PgTarget, String), BootstrapError> {
    let target = PgTarget::resolve(explicit)?;
    let url = target.default_url();
    if !matches!(target.source(), PgSource::Explicit) {
        create_database_if_missing(&target.database_url("postgres"), "fulfillment")?;
    }
    Ok((target, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_part_strips_database_and_query() {
        assert_eq!(
            server_part("postgres://u:p@h:5/db?sslmode=require"),
            "postgres://u:p@h:5"
        );
        assert_eq!(server_part("postgres://h"), "postgres://h");
    }
}
