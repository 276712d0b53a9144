//! The remote write driver. Series are split over connections by index (series i belongs
//! to connection i mod N), and each connection walks time forward with one request in
//! flight, so every series' samples reach the target in timestamp order however many
//! connections run — the targets refuse out-of-order samples by default.

use crate::encode::RequestBuilder;
use crate::series::{Metric, SeriesSpec, SeriesState, encode_labels, metric_mix, series_labels};
use crate::stats::{Tally, WriteReport, percentiles, rate};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest error body kept per status, so a flood of refusals cannot fill memory.
const MAX_ERROR_DETAIL: usize = 300;

#[derive(Clone, Debug)]
pub struct WritePlan {
    pub mode: &'static str,
    pub url: String,
    pub spec: SeriesSpec,
    pub start_ms: i64,
    pub interval_ms: i64,
    /// Timestamps to send (backfill); `None` runs until `duration`.
    pub ticks: Option<u64>,
    pub duration: Option<Duration>,
    /// Target samples/s over all connections; `None` sends as fast as the target answers.
    pub rate: Option<f64>,
    pub concurrency: usize,
    /// Samples per request; 0 means one timestamp of all the connection's series.
    pub batch: usize,
    /// Wait for the wall clock rather than send a timestamp from the future.
    pub not_after_now: bool,
    pub timeout: Duration,
    pub progress_every: Option<Duration>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

struct WorkerResult {
    tally: Tally,
    caught_up: bool,
    last_timestamp_ms: i64,
}

pub async fn run(plan: WritePlan) -> Result<WriteReport, String> {
    let concurrency = plan.concurrency.max(1);
    let client = reqwest::Client::builder()
        .timeout(plan.timeout)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mix = Arc::new(metric_mix(plan.spec.metrics, plan.spec.counter_percent));
    let plan = Arc::new(plan);
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = plan.duration.map(|d| started + d);
    let mut workers = Vec::with_capacity(concurrency);
    for index in 0..concurrency {
        let (plan, client, mix, acked) = (Arc::clone(&plan), client.clone(), Arc::clone(&mix), Arc::clone(&acked));
        workers.push(tokio::spawn(async move {
            worker(index, concurrency, &plan, &client, &mix, &acked, started, deadline).await
        }));
    }
    let reporter = plan
        .progress_every
        .map(|every| tokio::spawn(report_progress(Arc::clone(&acked), started, every)));
    let mut total = Tally::default();
    let mut caught_up = false;
    let mut last_timestamp_ms = plan.start_ms;
    for worker in workers {
        let result = worker.await.map_err(|e| format!("a connection task failed: {e}"))?;
        total.merge(result.tally);
        caught_up |= result.caught_up;
        last_timestamp_ms = last_timestamp_ms.max(result.last_timestamp_ms);
    }
    let elapsed = started.elapsed();
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    Ok(WriteReport {
        mode: plan.mode,
        url: plan.url.clone(),
        series: plan.spec.series,
        concurrency,
        batch: plan.batch,
        elapsed_s: elapsed.as_secs_f64(),
        requests_ok: total.requests_ok,
        samples_ok: total.samples_ok,
        samples_failed: total.samples_failed,
        samples_per_s: rate(total.samples_ok, elapsed),
        caught_up_with_now: caught_up,
        first_timestamp_ms: plan.start_ms,
        last_timestamp_ms,
        errors: total.errors,
        first_error: total.first_error,
        latency: percentiles(&mut total.latencies_us),
    })
}

async fn report_progress(acked: Arc<AtomicU64>, started: Instant, every: Duration) {
    let mut previous = 0;
    loop {
        tokio::time::sleep(every).await;
        let now = acked.load(Ordering::Relaxed);
        eprintln!(
            "heimsight-loadgen: {:>6.0}s {:>12} samples acknowledged, {:>10.0}/s over the last {}s",
            started.elapsed().as_secs_f64(),
            now,
            rate(now - previous, every),
            every.as_secs()
        );
        previous = now;
    }
}

/// What one connection has generated but not yet sent.
struct Pending {
    samples: Vec<Vec<(i64, f64)>>,
    /// Local series indexes with pending samples, in first-touched order.
    touched: Vec<usize>,
    count: usize,
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    index: usize,
    concurrency: usize,
    plan: &WritePlan,
    client: &reqwest::Client,
    mix: &[Metric],
    acked: &AtomicU64,
    started: Instant,
    deadline: Option<Instant>,
) -> WorkerResult {
    let owned: Vec<usize> = (index..plan.spec.series).step_by(concurrency).collect();
    let labels: Vec<Vec<u8>> = owned
        .iter()
        .map(|&i| encode_labels(&series_labels(&plan.spec, mix, i)))
        .collect();
    let mut states: Vec<SeriesState> = owned.iter().map(|&i| SeriesState::new(&plan.spec, mix, i)).collect();
    let batch = if plan.batch == 0 {
        owned.len().max(1)
    } else {
        plan.batch
    };
    let worker_rate = plan.rate.map(|r| r / concurrency as f64).filter(|r| *r > 0.0);
    let mut pending = Pending {
        samples: vec![Vec::new(); owned.len()],
        touched: Vec::new(),
        count: 0,
    };
    let mut builder = RequestBuilder::new();
    let mut result = WorkerResult {
        tally: Tally::default(),
        caught_up: false,
        last_timestamp_ms: plan.start_ms,
    };
    let mut attempted: u64 = 0;
    let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);
    let mut tick: u64 = 0;
    'ticks: loop {
        if plan.ticks.is_some_and(|t| tick >= t) || owned.is_empty() {
            break;
        }
        let timestamp = plan
            .start_ms
            .saturating_add((tick as i64).saturating_mul(plan.interval_ms));
        tick += 1;
        while plan.not_after_now && timestamp > now_ms() {
            result.caught_up = true;
            if past_deadline() {
                break 'ticks;
            }
            let wait = (timestamp - now_ms()).clamp(1, 100) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        for (local, state) in states.iter_mut().enumerate() {
            let value = state.advance();
            if pending.samples[local].is_empty() {
                pending.touched.push(local);
            }
            pending.samples[local].push((timestamp, value));
            pending.count += 1;
            if pending.count < batch {
                continue;
            }
            if past_deadline() {
                break 'ticks;
            }
            if let Some(r) = worker_rate {
                pace(started, attempted, r).await;
            }
            attempted += pending.count as u64;
            send(
                plan,
                client,
                &labels,
                &mut pending,
                &mut builder,
                &mut result.tally,
                acked,
            )
            .await;
        }
        result.last_timestamp_ms = timestamp;
    }
    if pending.count > 0 && !past_deadline() {
        send(
            plan,
            client,
            &labels,
            &mut pending,
            &mut builder,
            &mut result.tally,
            acked,
        )
        .await;
    }
    result
}

/// Sleeps until `attempted` samples are due at `rate` per second since `started`.
async fn pace(started: Instant, attempted: u64, rate: f64) {
    let due = started + Duration::from_secs_f64(attempted as f64 / rate);
    let now = Instant::now();
    if due > now {
        tokio::time::sleep(due - now).await;
    }
}

async fn send(
    plan: &WritePlan,
    client: &reqwest::Client,
    labels: &[Vec<u8>],
    pending: &mut Pending,
    builder: &mut RequestBuilder,
    tally: &mut Tally,
    acked: &AtomicU64,
) {
    builder.clear();
    for &local in &pending.touched {
        builder.push_series(&labels[local], &pending.samples[local]);
        pending.samples[local].clear();
    }
    let samples = pending.count as u64;
    pending.touched.clear();
    pending.count = 0;
    let body = match builder.compressed() {
        Ok(body) => body,
        Err(err) => {
            tally.record_error("encode".into(), err.to_string(), samples);
            return;
        }
    };
    let started = Instant::now();
    let response = client
        .post(&plan.url)
        .header(reqwest::header::CONTENT_ENCODING, "snappy")
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .header(reqwest::header::USER_AGENT, "heimsight-loadgen")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(err) => {
            tally.record_error("transport".into(), err.to_string(), samples);
            return;
        }
    };
    let status = response.status();
    // Read the body whatever the status, so the connection can be reused.
    let text = response.text().await.unwrap_or_default();
    let latency = started.elapsed();
    if status.is_success() {
        tally.requests_ok += 1;
        tally.samples_ok += samples;
        tally.latencies_us.push(latency.as_micros() as u64);
        acked.fetch_add(samples, Ordering::Relaxed);
    } else {
        let detail: String = text.trim().chars().take(MAX_ERROR_DETAIL).collect();
        tally.record_error(status.as_u16().to_string(), detail, samples);
    }
}
