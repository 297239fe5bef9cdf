//! `fulfillment-bench hot`: the hot paths side by side with PostgreSQL doing the same work, in
//! one run (issue 21). For each part it runs `pgbench` (the built-in `-N`, or a script of the
//! RPC's own SQL from `services/bench/hot_paths/`), then the RPC at the same number of callers,
//! and prints both with their ratio. `services/bench/hot_paths/run.sh` sets up the databases and
//! the server and runs it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;

use crate::pgbench::{Figure, PgbenchScript, pgbench};
use crate::{
    BenchOrders, Step, bench_merchant, drive, fulfill_request, order_id, parse_duration,
    percentile_ms,
};

#[derive(clap::Args)]
pub struct HotArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// The service's database (libpq URL): the scripts of the RPCs' SQL run there, on the
    /// rows the RPCs wrote. Without it (and `--pgbench-db`) only the RPCs run (a smoke run).
    #[arg(long)]
    service_db: Option<String>,
    /// A database set up by `pgbench -i`, for `pgbench -N`.
    #[arg(long)]
    pgbench_db: Option<String>,
    /// How long each measurement runs, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Caller counts for FulfillOrder against `pgbench -N`.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    callers: Vec<usize>,
    /// Callers for the other parts (ReleaseOrder, reads, the idempotent FulfillOrder).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Orders released (and measured as ReleaseOrder) before the FulfillOrder runs; they must
    /// outlast every FulfillOrder run.
    #[arg(long, default_value_t = 60_000)]
    orders: usize,
    /// HTTP/2 connections shared by the callers.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Where the pgbench scripts are.
    #[arg(long, default_value = "services/bench/hot_paths")]
    scripts: PathBuf,
    /// A merchant whose APPROVED orders ListOrdersToFulfill walks page after page (seeded by
    /// run.sh), and its page size.
    #[arg(long)]
    list_merchant: Option<String>,
    #[arg(long, default_value_t = 100)]
    page_size: i32,
    /// Run only these parts: fulfill, release, idempotent, get, batch-get, list.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl HotArgs {
    fn runs(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

/// Set when a measurement saw a failed call or transaction: the run then fails (its figures
/// would not be of the work they claim).
static ERRORS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints one comparison line and returns the ratio.
fn compare(what: &str, rpc: Figure, pg_what: &str, pg: Option<Figure>) -> Option<f64> {
    println!("{what}: {}", rpc.show("req/s"));
    if rpc.errors > 0 || pg.is_some_and(|pg| pg.errors > 0) {
        ERRORS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let pg = pg?;
    let ratio = rpc.rate / pg.rate;
    println!("  {pg_what}: {}", pg.show("tps"));
    println!(
        "  ratio {ratio:.2}, p99 {:.1}x pgbench's",
        rpc.p99 / pg.p99.max(f64::MIN_POSITIVE)
    );
    Some(ratio)
}

/// An index spread over `0..n` that visits ids in a scattered order (no two callers in step).
fn scattered(i: usize, n: usize) -> usize {
    (i.wrapping_mul(7919)) % n.max(1)
}

type Client = FulfillmentServiceClient<tonic::transport::Channel>;

/// One run of the hot paths: the callers' connections, the run's merchant and orders, and the
/// ratios gathered for the summary.
struct HotRun {
    args: HotArgs,
    clients: Vec<Client>,
    run: i64,
    merchant: String,
    summary: Vec<(String, f64)>,
    /// Released orders not yet shipped start here.
    next_order: usize,
}

pub async fn run(args: HotArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.callers.contains(&0) {
        bail!("caller counts must be at least 1");
    }
    let (clients, run, merchant) = bench_merchant(&args.addr, args.connections).await?;
    let mut hot = HotRun {
        args,
        clients,
        run,
        merchant,
        summary: Vec::new(),
        next_order: 0,
    };
    hot.release().await?;
    if hot.args.runs("fulfill") {
        hot.fulfill().await?;
    }
    if hot.args.runs("idempotent") {
        hot.idempotent().await?;
    }
    if hot.args.runs("get") {
        hot.get().await?;
    }
    if hot.args.runs("batch-get") {
        hot.batch_get().await?;
    }
    if hot.args.runs("list")
        && let Some(list_merchant) = hot.args.list_merchant.clone()
    {
        hot.list(&list_merchant).await?;
    }
    hot.finish()
}

impl HotRun {
    fn script(&self, name: &str) -> PathBuf {
        self.args.scripts.join(name)
    }

    /// pgbench on `db` when that database was given; `None` in a smoke run.
    fn pgbench_on(
        &self,
        db: Option<&String>,
        script: PgbenchScript<'_>,
        clients: usize,
        defines: &[(&str, String)],
    ) -> anyhow::Result<Option<Figure>> {
        db.map(|db| pgbench(db, script, clients, self.args.duration, defines))
            .transpose()
    }

    /// Prints the comparison and keeps its ratio for the summary under `label`.
    fn record(&mut self, label: &str, what: &str, rpc: Figure, pg_what: &str, pg: Option<Figure>) {
        if let Some(r) = compare(what, rpc, pg_what, pg) {
            self.summary.push((label.to_owned(), r));
        }
    }

    /// ReleaseOrder: the orders every later part uses, released at `concurrency` callers.
    async fn release(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let orders = BenchOrders {
            clients: &self.clients,
            run: self.run,
            merchant: &self.merchant,
        };
        let mut released = orders
            .drive(Step::Release, self.args.concurrency, self.args.orders, None)
            .await;
        let elapsed = started.elapsed();
        if released.errors > 0 {
            bail!(
                "{} of {} releases failed{}",
                released.errors,
                self.args.orders,
                released.first_error_note()
            );
        }
        let release = Figure::of(&mut released, elapsed);
        if !self.args.runs("release") {
            return Ok(());
        }
        let pg = self.pgbench_on(
            self.args.service_db.as_ref(),
            PgbenchScript::File(&self.script("release.sql")),
            self.args.concurrency,
            &[("merchant", self.merchant.clone())],
        )?;
        let what = format!(
            "ReleaseOrder, {} callers ({} orders)",
            self.args.concurrency, self.args.orders
        );
        self.record(
            "ReleaseOrder / release.sql",
            &what,
            release,
            "pgbench release.sql",
            pg,
        );
        Ok(())
    }

    /// FulfillOrder at `callers` for the run's duration on the next unshipped orders, with an
    /// idempotency key when `key`.
    async fn fulfill_at(&mut self, callers: usize, key: bool) -> Figure {
        let (run, merchant, first) = (self.run, self.merchant.clone(), self.next_order);
        let total = self.args.orders;
        let started = Instant::now();
        let mut driven = drive(
            &self.clients,
            callers,
            total - first,
            Some(started + self.args.duration),
            move |mut c, i| {
                let mut request =
                    tonic::Request::new(fulfill_request(run, merchant.clone(), first + i));
                if key {
                    let value = format!("bench-{run}-{}", first + i);
                    if let Ok(value) = value.parse() {
                        request.metadata_mut().insert("idempotency-key", value);
                    }
                }
                async move { c.fulfill_order(request).await.map(drop) }
            },
        )
        .await;
        let elapsed = started.elapsed();
        let used = driven.latencies.len();
        if used >= total - first {
            println!("note: the released orders ran out; rates are over the time they lasted");
        }
        if let Some(e) = &driven.first_error {
            println!("note: first error {:?} {}", e.code(), e.message());
        }
        self.next_order += used;
        Figure::of(&mut driven, elapsed)
    }

    /// FulfillOrder at `callers` next to `pgbench -N` at the same count, recorded as `label`.
    async fn fulfill_vs_pgbench(
        &mut self,
        callers: usize,
        key: bool,
        label: &str,
        what: &str,
    ) -> anyhow::Result<(Figure, Option<Figure>)> {
        let pg = self.pgbench_on(
            self.args.pgbench_db.as_ref(),
            PgbenchScript::Builtin("-N"),
            callers,
            &[],
        )?;
        let figure = self.fulfill_at(callers, key).await;
        self.record(label, what, figure, &format!("pgbench -N -c {callers}"), pg);
        Ok((figure, pg))
    }

    /// FulfillOrder at each caller count, next to pgbench -N at the same count, then the
    /// latency table.
    async fn fulfill(&mut self) -> anyhow::Result<()> {
        let mut rows = Vec::new();
        for callers in self.args.callers.clone() {
            let (figure, pg) = self
                .fulfill_vs_pgbench(
                    callers,
                    false,
                    &format!("FulfillOrder / pgbench -N, {callers} callers"),
                    &format!("FulfillOrder, {callers} callers"),
                )
                .await?;
            rows.push((callers, figure, pg));
        }
        if let Some((callers, figure, pg)) = rows.last().copied() {
            self.fulfill_sql(callers, figure, pg)?;
        }
        println!("latency (ms)   | FulfillOrder p50 / p99 | pgbench -N p50 / p99 | p99 ratio");
        for (callers, f, pg) in rows {
            match pg {
                Some(pg) => println!(
                    "{callers:>3} callers    | {:>8.2} / {:>8.2}    | {:>7.2} / {:>7.2}     | {:.1}",
                    f.p50,
                    f.p99,
                    pg.p50,
                    pg.p99,
                    f.p99 / pg.p99.max(f64::MIN_POSITIVE)
                ),
                None => println!("{callers:>3} callers    | {:>8.2} / {:>8.2}", f.p50, f.p99),
            }
        }
        Ok(())
    }

    /// FulfillOrder's own two statements in pgbench at `callers` (crate::fulfill_sql), next to
    /// `pgbench -N` and to FulfillOrder at the same count: the SQL's share of the gap and the
    /// service's.
    fn fulfill_sql(
        &mut self,
        callers: usize,
        rpc: Figure,
        n: Option<Figure>,
    ) -> anyhow::Result<()> {
        let Some(db) = self.args.service_db.clone() else {
            return Ok(());
        };
        let sql = crate::fulfill_sql::run(
            &db,
            &self.args.scripts,
            (self.run, &self.merchant),
            callers,
            (self.args.orders, self.args.duration),
        )?;
        let what = format!("FulfillOrder's own SQL in pgbench, {callers} clients");
        self.record(
            &format!("FulfillOrder's SQL / pgbench -N, {callers} callers"),
            &what,
            sql,
            &format!("pgbench -N -c {callers}"),
            n,
        );
        self.record(
            &format!("FulfillOrder / its own SQL, {callers} callers"),
            &format!("FulfillOrder, {callers} callers"),
            rpc,
            "its SQL in pgbench",
            Some(sql),
        );
        Ok(())
    }

    async fn idempotent(&mut self) -> anyhow::Result<()> {
        let callers = self.args.concurrency;
        self.fulfill_vs_pgbench(
            callers,
            true,
            "FulfillOrder (idempotency key) / pgbench -N",
            &format!("FulfillOrder with an idempotency key, {callers} callers"),
        )
        .await?;
        Ok(())
    }

    /// The defines of the read scripts: the run's orders (shipped ones have a tracking to join).
    fn read_defines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("run", self.run.to_string()),
            ("merchant", self.merchant.clone()),
            ("n", self.args.orders.to_string()),
        ]
    }

    /// A read at `concurrency` callers for the run's duration, next to its pgbench script.
    async fn read<F, Fut>(
        &mut self,
        label: &str,
        what: &str,
        script: &str,
        call: F,
    ) -> anyhow::Result<()>
    where
        F: Fn(Client, usize) -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
    {
        let started = Instant::now();
        let mut driven = drive(
            &self.clients,
            self.args.concurrency,
            usize::MAX,
            Some(started + self.args.duration),
            call,
        )
        .await;
        let figure = Figure::of(&mut driven, started.elapsed());
        let pg = self.pgbench_on(
            self.args.service_db.as_ref(),
            PgbenchScript::File(&self.script(script)),
            self.args.concurrency,
            &self.read_defines(),
        )?;
        let what = format!("{what}, {} callers", self.args.concurrency);
        self.record(label, &what, figure, &format!("pgbench {script}"), pg);
        Ok(())
    }

    async fn get(&mut self) -> anyhow::Result<()> {
        let (run, m, n) = (self.run, self.merchant.clone(), self.args.orders);
        self.read(
            "GetOrder / get.sql",
            "GetOrder",
            "get.sql",
            move |mut c, i| {
                let request = pb::GetOrderRequest {
                    merchant_id: m.clone(),
                    order_id: order_id(run, scattered(i, n)),
                };
                async move { c.get_order(request).await.map(drop) }
            },
        )
        .await
    }

    async fn batch_get(&mut self) -> anyhow::Result<()> {
        let (run, m, n) = (self.run, self.merchant.clone(), self.args.orders);
        self.read(
            "BatchGetOrders / batch_get.sql",
            "BatchGetOrders (100 ids)",
            "batch_get.sql",
            move |mut c, i| {
                let start = scattered(i, n.saturating_sub(100));
                let request = pb::BatchGetOrdersRequest {
                    merchant_id: m.clone(),
                    order_ids: (start..start + 100.min(n))
                        .map(|k| order_id(run, k))
                        .collect(),
                };
                async move { c.batch_get_orders(request).await.map(drop) }
            },
        )
        .await
    }

    /// ListOrdersToFulfill page after page over one merchant's orders, one caller: the first and
    /// last tenth of the pages show whether a page's cost grows with its depth.
    async fn list(&mut self, list_merchant: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        let (pages, orders) = self.walk_pages(list_merchant).await?;
        let elapsed = started.elapsed();
        let tenth = (pages.len() / 10).max(1);
        let mean = |p: &[Duration]| {
            p.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / p.len().max(1) as f64
        };
        let first = mean(&pages[..tenth.min(pages.len())]);
        let last = mean(&pages[pages.len().saturating_sub(tenth)..]);
        let mut sorted = pages.clone();
        sorted.sort();
        let figure = Figure {
            rate: pages.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile_ms(&sorted, 0.5),
            p99: percentile_ms(&sorted, 0.99),
            errors: 0,
        };
        println!(
            "ListOrdersToFulfill, 1 caller: {} orders in {} pages of {} in {:.1} s; first tenth {first:.2} ms a page, last tenth {last:.2} ms",
            orders,
            pages.len(),
            self.args.page_size,
            elapsed.as_secs_f64()
        );
        let pg = self.pgbench_on(
            self.args.service_db.as_ref(),
            PgbenchScript::File(&self.script("list.sql")),
            1,
            &[
                ("merchant", list_merchant.to_owned()),
                ("n", orders.to_string()),
                ("page", self.args.page_size.to_string()),
            ],
        )?;
        self.record(
            "ListOrdersToFulfill / list.sql",
            "ListOrdersToFulfill pages",
            figure,
            "pgbench list.sql (a page at a random key)",
            pg,
        );
        Ok(())
    }

    /// Every page of the merchant's orders to fulfil: each page's time, and the orders seen.
    async fn walk_pages(&self, merchant: &str) -> anyhow::Result<(Vec<Duration>, usize)> {
        let mut client = self.clients[0].clone();
        let mut token = String::new();
        let mut pages = Vec::new();
        let mut orders = 0usize;
        loop {
            let t = Instant::now();
            let page = client
                .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                    merchant_id: merchant.to_owned(),
                    page_size: self.args.page_size,
                    page_token: token.clone(),
                })
                .await
                .context("ListOrdersToFulfill")?
                .into_inner();
            pages.push(t.elapsed());
            orders += page.orders.len();
            token = page.next_page_token;
            if token.is_empty() {
                return Ok((pages, orders));
            }
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        println!("orders shipped this run: {}", self.next_order);
        if !self.summary.is_empty() {
            println!("ratios:");
            for (what, ratio) in self.summary {
                println!("  {what}: {ratio:.2}");
            }
        }
        if ERRORS.load(std::sync::atomic::Ordering::Relaxed) {
            bail!("some calls or transactions failed (see above)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scattered_stays_in_range_and_spreads() {
        let n = 1000;
        let seen: std::collections::HashSet<usize> = (0..n).map(|i| scattered(i, n)).collect();
        // 7919 is prime and does not divide 1000: every id is visited once per n calls.
        assert_eq!(seen.len(), n);
        assert!(seen.iter().all(|&k| k < n));
    }
}
