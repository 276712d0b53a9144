//! `heimsight-loadgen`: the benchmark's load generator. It speaks only public wire
//! protocols (remote write 1.0 in, the Prometheus query API out), so the very same run can
//! be pointed at Heimsight, Prometheus or VictoriaMetrics and the figures compared.
//!
//! Each mode prints one JSON report line on stdout; progress and summaries go to stderr.

mod encode;
mod query;
mod series;
mod stats;
mod write;
#[cfg(test)]
mod write_tests;

use clap::{Args, Parser, Subcommand};
use heimsight::server::duration::parse_prom_duration;
use series::SeriesSpec;
use std::process::ExitCode;
use std::time::Duration;

/// Remote-write load generator and range-query timer for Heimsight and its peers.
#[derive(Parser, Debug)]
#[command(name = "heimsight-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Send remote write at a target rate, or as fast as the target acknowledges, for a duration.
    Write(WriteArgs),
    /// Write a fixed time range, ascending in time (for the query benchmark).
    Backfill(BackfillArgs),
    /// Run one range query repeatedly and report latency percentiles.
    Query(QueryArgs),
}

fn duration_ms(text: &str) -> Result<i64, String> {
    parse_prom_duration(text).map_err(|e| e.to_string())
}

/// Unix time in seconds (fractions allowed), as Prometheus' API takes it, to milliseconds.
fn unix_ms(text: &str) -> Result<i64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("not a Unix time in seconds: {text:?}"))?;
    if !seconds.is_finite() || seconds.abs() > 1e12 {
        return Err(format!("Unix time out of range: {text:?}"));
    }
    Ok((seconds * 1000.0).round() as i64)
}

#[derive(Args, Debug, Clone)]
struct SeriesArgs {
    /// Number of distinct series.
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Labels per series, `__name__`, `job` and `instance` included (minimum 3).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(3..=64))]
    labels: u16,
    /// Distinct metric names the series are spread over.
    #[arg(long, default_value_t = 10)]
    metrics: usize,
    /// Share of metric names that are counters, in percent; the rest are gauges.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    counter_percent: u32,
    /// Seed of the value generator; the same seed gives byte-identical data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Value of the `job` label of every series.
    #[arg(long, default_value = "bench")]
    job: String,
}

impl SeriesArgs {
    fn spec(&self) -> SeriesSpec {
        SeriesSpec {
            series: self.series,
            labels: self.labels as usize,
            metrics: self.metrics.max(1),
            counter_percent: self.counter_percent,
            seed: self.seed,
            job: self.job.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
struct ConnectionArgs {
    /// Remote write URL, e.g. http://127.0.0.1:9090/api/v1/write.
    #[arg(long)]
    url: String,
    /// Concurrent connections, each with one request in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Samples per request (0: one timestamp of all series a connection owns).
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = duration_ms)]
    timeout: i64,
    /// Print progress to stderr every this often (0s: never).
    #[arg(long, default_value = "10s", value_parser = duration_ms)]
    progress: i64,
}

#[derive(Args, Debug)]
struct WriteArgs {
    #[command(flatten)]
    series: SeriesArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Spacing of consecutive samples of one series.
    #[arg(long, default_value = "1s", value_parser = duration_ms)]
    interval: i64,
    /// How long to send.
    #[arg(long, default_value = "60s", value_parser = duration_ms)]
    duration: i64,
    /// Target samples/s over all connections; without it, send at saturation.
    #[arg(long)]
    rate: Option<f64>,
    /// The first timestamp lies this far before now. Timestamps never pass the wall clock,
    /// so at saturation this is the head room: series × backdate / interval samples.
    #[arg(long, default_value = "1h", value_parser = duration_ms)]
    backdate: i64,
}

#[derive(Args, Debug)]
struct BackfillArgs {
    #[command(flatten)]
    series: SeriesArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// First timestamp, Unix seconds.
    #[arg(long, value_parser = unix_ms)]
    start: i64,
    /// Last timestamp (inclusive), Unix seconds.
    #[arg(long, value_parser = unix_ms)]
    end: i64,
    /// Spacing of consecutive samples of one series (the scrape interval).
    #[arg(long, default_value = "15s", value_parser = duration_ms)]
    interval: i64,
}

#[derive(Args, Debug)]
struct QueryArgs {
    /// Base URL of a Prometheus-compatible API, e.g. http://127.0.0.1:9090.
    #[arg(long)]
    url: String,
    /// PromQL expression.
    #[arg(long)]
    query: String,
    /// Range start, Unix seconds.
    #[arg(long)]
    start: String,
    /// Range end, Unix seconds.
    #[arg(long)]
    end: String,
    /// Resolution step (seconds or a duration such as 60s).
    #[arg(long, default_value = "60")]
    step: String,
    /// Unmeasured runs first (caches, page cache).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Measured runs.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Extra query parameter NAME=VALUE (repeatable), e.g. nocache=1 for VictoriaMetrics.
    #[arg(long = "param", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Per-query timeout.
    #[arg(long, default_value = "2m", value_parser = duration_ms)]
    timeout: i64,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or("expected NAME=VALUE")?;
    Ok((name.to_string(), value.to_string()))
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

fn write_plan(mode: &'static str, series: &SeriesArgs, connection: &ConnectionArgs) -> write::WritePlan {
    write::WritePlan {
        mode,
        url: connection.url.clone(),
        spec: series.spec(),
        start_ms: 0,
        interval_ms: 1000,
        ticks: None,
        duration: None,
        rate: None,
        concurrency: connection.concurrency.max(1),
        batch: connection.batch,
        not_after_now: false,
        timeout: millis(connection.timeout),
        progress_every: (connection.progress > 0).then(|| millis(connection.progress)),
    }
}

async fn run(mode: Mode) -> Result<String, String> {
    match mode {
        Mode::Write(args) => {
            let mut plan = write_plan("write", &args.series, &args.connection);
            plan.interval_ms = args.interval.max(1);
            // Aligned to the interval, as a scraper's timestamps would be.
            let start = write::now_ms() - args.backdate.max(0);
            plan.start_ms = start - start.rem_euclid(plan.interval_ms);
            plan.duration = Some(millis(args.duration));
            plan.rate = args.rate;
            plan.not_after_now = true;
            Ok(json(&write::run(plan).await?))
        }
        Mode::Backfill(args) => {
            if args.end < args.start {
                return Err("--end is before --start".into());
            }
            let mut plan = write_plan("backfill", &args.series, &args.connection);
            plan.interval_ms = args.interval.max(1);
            plan.start_ms = args.start;
            plan.ticks = Some(((args.end - args.start) / plan.interval_ms) as u64 + 1);
            Ok(json(&write::run(plan).await?))
        }
        Mode::Query(args) => {
            let plan = query::QueryPlan {
                url: args.url,
                query: args.query,
                start: args.start,
                end: args.end,
                step: args.step,
                warmup: args.warmup,
                repeat: args.repeat.max(1),
                params: args.params,
                timeout: millis(args.timeout),
            };
            Ok(json(&query::run(plan).await?))
        }
    }
}

fn json(report: &impl serde::Serialize) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the report: {e}\"}}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("heimsight-loadgen: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.mode)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("heimsight-loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_params_parse() {
        assert_eq!(unix_ms("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(unix_ms("1.5"), Ok(1500));
        assert!(unix_ms("now").is_err());
        assert!(unix_ms("inf").is_err());
        assert_eq!(parse_param("nocache=1"), Ok(("nocache".into(), "1".into())));
        assert_eq!(parse_param("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_param("nocache").is_err());
        assert_eq!(duration_ms("15s"), Ok(15_000));
    }

    #[test]
    fn cli_parses_each_mode() {
        let cli = Cli::try_parse_from([
            "heimsight-loadgen",
            "backfill",
            "--url",
            "http://127.0.0.1:1/api/v1/write",
            "--start",
            "100",
            "--end",
            "200",
            "--batch",
            "0",
        ])
        .expect("parses");
        let Mode::Backfill(args) = cli.mode else {
            panic!("backfill expected")
        };
        assert_eq!((args.start, args.end, args.interval), (100_000, 200_000, 15_000));
        assert_eq!(args.series.series, 10_000);
        assert!(Cli::try_parse_from(["heimsight-loadgen", "write", "--url", "u", "--labels", "2"]).is_err());
    }
}
