//! Range-query latency: the same `/api/v1/query_range` request sent repeatedly, one at a
//! time, to any Prometheus-compatible API. Sequential on purpose: the figure wanted is how
//! long one dashboard panel waits, not throughput under concurrency.

use crate::stats::{Percentiles, percentiles};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const MAX_ERROR_DETAIL: usize = 300;

#[derive(Clone, Debug)]
pub struct QueryPlan {
    /// Base URL of the API, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    pub query: String,
    /// Unix seconds, as Prometheus accepts them.
    pub start: String,
    pub end: String,
    pub step: String,
    pub warmup: usize,
    pub repeat: usize,
    /// Extra query parameters, e.g. VictoriaMetrics' `nocache=1`.
    pub params: Vec<(String, String)>,
    pub timeout: Duration,
}

#[derive(Debug, Serialize)]
pub struct QueryReport {
    pub url: String,
    pub query: String,
    pub start: String,
    pub end: String,
    pub step: String,
    pub ok: usize,
    pub errors: BTreeMap<String, u64>,
    pub first_error: BTreeMap<String, String>,
    /// Shape of the last successful answer, to check that every target answered alike.
    pub result_series: usize,
    pub result_points: usize,
    pub latency: Percentiles,
}

/// The parts of a Prometheus matrix answer that show whether two targets agree.
fn answer_shape(body: &[u8]) -> Result<(usize, usize), String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if value.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err("answer status is not success".into());
    }
    let result = value
        .pointer("/data/result")
        .and_then(|r| r.as_array())
        .ok_or("answer has no data.result array")?;
    let points = result
        .iter()
        .map(|series| series.get("values").and_then(|v| v.as_array()).map_or(0, |v| v.len()))
        .sum();
    Ok((result.len(), points))
}

pub async fn run(plan: QueryPlan) -> Result<QueryReport, String> {
    let client = reqwest::Client::builder()
        .timeout(plan.timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let endpoint = format!("{}/api/v1/query_range", plan.url.trim_end_matches('/'));
    let mut params: Vec<(String, String)> = vec![
        ("query".into(), plan.query.clone()),
        ("start".into(), plan.start.clone()),
        ("end".into(), plan.end.clone()),
        ("step".into(), plan.step.clone()),
    ];
    params.extend(plan.params.iter().cloned());
    let mut report = QueryReport {
        url: plan.url.clone(),
        query: plan.query.clone(),
        start: plan.start.clone(),
        end: plan.end.clone(),
        step: plan.step.clone(),
        ok: 0,
        errors: BTreeMap::new(),
        first_error: BTreeMap::new(),
        result_series: 0,
        result_points: 0,
        latency: Percentiles::default(),
    };
    let mut latencies_us = Vec::with_capacity(plan.repeat);
    for round in 0..plan.warmup + plan.repeat {
        let started = Instant::now();
        let outcome = match client.get(&endpoint).query(&params).send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(body) if status.is_success() => answer_shape(&body).map_err(|e| ("bad-answer".to_string(), e)),
                    Ok(body) => Err((
                        status.as_u16().to_string(),
                        String::from_utf8_lossy(&body).chars().take(MAX_ERROR_DETAIL).collect(),
                    )),
                    Err(err) => Err(("transport".to_string(), err.to_string())),
                }
            }
            Err(err) => Err(("transport".to_string(), err.to_string())),
        };
        let latency = started.elapsed();
        let measured = round >= plan.warmup;
        match outcome {
            Ok((series, points)) => {
                report.result_series = series;
                report.result_points = points;
                if measured {
                    report.ok += 1;
                    latencies_us.push(latency.as_micros() as u64);
                }
            }
            Err((key, detail)) => {
                report.first_error.entry(key.clone()).or_insert(detail);
                *report.errors.entry(key).or_default() += 1;
            }
        }
    }
    report.latency = percentiles(&mut latencies_us);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_series_and_points() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"a"},"values":[[1,"1"],[2,"2"]]},{"metric":{},"values":[[1,"3"]]}]}}"#;
        assert_eq!(answer_shape(body), Ok((2, 3)));
        assert!(answer_shape(br#"{"status":"error","error":"x"}"#).is_err());
        assert!(answer_shape(b"not json").is_err());
        assert!(answer_shape(br#"{"status":"success","data":{}}"#).is_err());
    }

    #[tokio::test]
    async fn repeats_against_a_local_server_and_counts_errors() {
        use axum::extract::Query;
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/api/v1/query_range",
            get(|Query(q): Query<BTreeMap<String, String>>| async move {
                if q.get("nocache").map(String::as_str) != Some("1") || q.get("step").map(String::as_str) != Some("60")
                {
                    return (axum::http::StatusCode::BAD_REQUEST, "missing parameter".to_string());
                }
                (
                    axum::http::StatusCode::OK,
                    r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#
                        .to_string(),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut plan = QueryPlan {
            url: format!("http://{addr}/"),
            query: "up".into(),
            start: "0".into(),
            end: "3600".into(),
            step: "60".into(),
            warmup: 1,
            repeat: 3,
            params: vec![("nocache".into(), "1".into())],
            timeout: Duration::from_secs(10),
        };
        let report = run(plan.clone()).await.expect("runs");
        assert_eq!(report.ok, 3);
        assert_eq!(report.latency.count, 3);
        assert_eq!((report.result_series, report.result_points), (1, 1));
        assert!(report.errors.is_empty());
        plan.params.clear();
        let report = run(plan).await.expect("runs");
        assert_eq!(report.ok, 0);
        assert_eq!(report.errors["400"], 4, "warm-up failures are counted too");
        assert_eq!(report.first_error["400"], "missing parameter");
        server.abort();
    }
}
