//! The Prometheus HTTP API v1 as a test client: raw responses plus parsed result series.

use serde_json::Value;
use std::collections::BTreeMap;

/// A raw API answer: status code, body text and the body parsed as JSON (`Null` if it is not JSON).
#[derive(Clone, Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub json: Value,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.json["status"] == "success"
    }

    pub fn result_type(&self) -> &str {
        self.json["data"]["resultType"].as_str().unwrap_or("")
    }

    pub fn error_type(&self) -> &str {
        self.json["errorType"].as_str().unwrap_or("")
    }

    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

pub type Labels = BTreeMap<String, String>;

/// One series of a vector or matrix result, with points as `(timestamp_ms, value_text)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultSeries {
    pub labels: Labels,
    pub points: Vec<(i64, String)>,
}

pub fn get(client: &reqwest::blocking::Client, url: &str, params: &[(&str, &str)]) -> ApiResponse {
    try_get(client, url, params).unwrap_or_else(|err| panic!("{err}"))
}

/// Like [`get`], with transport errors (server gone, timeout) as a value.
pub fn try_get(client: &reqwest::blocking::Client, url: &str, params: &[(&str, &str)]) -> Result<ApiResponse, String> {
    let response = client
        .get(url)
        .query(params)
        .send()
        .map_err(|err| format!("GET {url} failed: {err}"))?;
    Ok(into_api_response(response))
}

pub fn post_form(client: &reqwest::blocking::Client, url: &str, params: &[(&str, &str)]) -> ApiResponse {
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap_or_else(|err| panic!("POST {url} failed: {err}"));
    into_api_response(response)
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn into_api_response(response: reqwest::blocking::Response) -> ApiResponse {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    ApiResponse {
        status,
        content_type,
        text,
        json,
    }
}

pub fn instant_query(client: &reqwest::blocking::Client, base_url: &str, query: &str, time_ms: i64) -> ApiResponse {
    try_instant_query(client, base_url, query, time_ms).unwrap_or_else(|err| panic!("{err}"))
}

pub fn try_instant_query(
    client: &reqwest::blocking::Client,
    base_url: &str,
    query: &str,
    time_ms: i64,
) -> Result<ApiResponse, String> {
    let time = super::ms_to_param(time_ms);
    try_get(
        client,
        &format!("{base_url}/api/v1/query"),
        &[("query", query), ("time", &time)],
    )
}

pub fn range_query(
    client: &reqwest::blocking::Client,
    base_url: &str,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step: &str,
) -> ApiResponse {
    try_range_query(client, base_url, query, start_ms, end_ms, step).unwrap_or_else(|err| panic!("{err}"))
}

pub fn try_range_query(
    client: &reqwest::blocking::Client,
    base_url: &str,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step: &str,
) -> Result<ApiResponse, String> {
    let start = super::ms_to_param(start_ms);
    let end = super::ms_to_param(end_ms);
    try_get(
        client,
        &format!("{base_url}/api/v1/query_range"),
        &[("query", query), ("start", &start), ("end", &end), ("step", step)],
    )
}

/// API timestamps are float seconds with millisecond precision.
pub fn timestamp_ms(value: &Value) -> Option<i64> {
    let seconds = value.as_f64()?;
    Some((seconds * 1000.0).round() as i64)
}

/// Parses a sample value the way the API writes it: `"1"`, `"NaN"`, `"+Inf"`, `"-Inf"`.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

fn labels_of(metric: &Value) -> Labels {
    metric
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn point(pair: &Value) -> Option<(i64, String)> {
    let timestamp = timestamp_ms(pair.get(0)?)?;
    let value = pair.get(1)?.as_str()?.to_string();
    Some((timestamp, value))
}

/// The series of a `vector` or `matrix` result (a `scalar` becomes one series without labels),
/// in the order of the response.
pub fn result_series(response: &ApiResponse) -> Vec<ResultSeries> {
    let data = &response.json["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("vector") => result
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| ResultSeries {
                        labels: labels_of(&item["metric"]),
                        points: point(&item["value"]).into_iter().collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Some("matrix") => result
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| ResultSeries {
                        labels: labels_of(&item["metric"]),
                        points: item["values"]
                            .as_array()
                            .map(|values| values.iter().filter_map(point).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Some("scalar") | Some("string") => vec![ResultSeries {
            labels: Labels::new(),
            points: point(result).into_iter().collect(),
        }],
        _ => Vec::new(),
    }
}

/// Label maps from `name=value` pairs, for assertions.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
