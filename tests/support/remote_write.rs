//! A small remote-write sender, enough to push known samples and hostile bodies at a receiver.

use super::prompb::{Label, Sample, TimeSeries, TimeSeriesV2, WriteRequest, WriteRequestV2};
use prost::Message;
use std::time::Duration;

pub const CONTENT_TYPE_V1: &str = "application/x-protobuf";
pub const CONTENT_TYPE_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// What a receiver answered.
#[derive(Debug)]
pub struct PushResponse {
    pub status: u16,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl PushResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }
}

/// One series with its samples, as `(timestamp_ms, value)`.
pub fn series(labels: Vec<Label>, samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels,
        samples: samples
            .iter()
            .map(|(timestamp, value)| Sample {
                value: *value,
                timestamp: *timestamp,
            })
            .collect(),
    }
}

pub fn snappy(raw: &[u8]) -> Vec<u8> {
    // Compressing a byte slice into a fresh buffer has no failure mode but an oversized input.
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_else(|err| panic!("snappy compression of {} bytes failed: {err}", raw.len()))
}

pub fn encode_v1(request: &WriteRequest) -> Vec<u8> {
    snappy(&request.encode_to_vec())
}

/// A series to send by remote write 2.0: `(name, value)` labels and `(timestamp_ms, value)` samples.
pub type SeriesV2<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, f64)>);

/// Builds a 2.0 request: interns every label string in `symbols` (index 0 is always "").
pub fn encode_v2(series: &[SeriesV2]) -> Vec<u8> {
    let mut symbols = vec![String::new()];
    let mut intern = |text: &str| -> u32 {
        if let Some(position) = symbols.iter().position(|s| s == text) {
            return position as u32;
        }
        symbols.push(text.to_string());
        (symbols.len() - 1) as u32
    };
    let mut timeseries = Vec::new();
    for (labels, samples) in series {
        let mut labels_refs = Vec::new();
        for (name, value) in labels {
            labels_refs.push(intern(name));
            labels_refs.push(intern(value));
        }
        timeseries.push(TimeSeriesV2 {
            labels_refs,
            samples: samples
                .iter()
                .map(|(timestamp, value)| super::prompb::SampleV2 {
                    value: *value,
                    timestamp: *timestamp,
                    start_timestamp: 0,
                })
                .collect(),
            metadata: None,
        });
    }
    snappy(&WriteRequestV2 { symbols, timeseries }.encode_to_vec())
}

/// A remote write 2.0 series whose samples carry start timestamps:
/// `(labels, [(timestamp_ms, value, start_timestamp_ms)])`.
pub type SeriesV2WithStart<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, f64, i64)>);

/// Builds a 2.0 request whose samples carry start timestamps.
pub fn encode_v2_with_start(series: &[SeriesV2WithStart]) -> Vec<u8> {
    let mut symbols = vec![String::new()];
    let mut timeseries = Vec::new();
    for (labels, samples) in series {
        let mut labels_refs = Vec::new();
        for text in labels.iter().flat_map(|(name, value)| [*name, *value]) {
            let position = match symbols.iter().position(|s| s == text) {
                Some(position) => position,
                None => {
                    symbols.push(text.to_string());
                    symbols.len() - 1
                }
            };
            labels_refs.push(position as u32);
        }
        timeseries.push(TimeSeriesV2 {
            labels_refs,
            samples: samples
                .iter()
                .map(|(timestamp, value, start)| super::prompb::SampleV2 {
                    value: *value,
                    timestamp: *timestamp,
                    start_timestamp: *start,
                })
                .collect(),
            metadata: None,
        });
    }
    snappy(&WriteRequestV2 { symbols, timeseries }.encode_to_vec())
}

/// Posts a snappy-compressed 2.0 body with the headers a Prometheus 2.0 sender uses.
pub fn post_v2(client: &reqwest::blocking::Client, base_url: &str, body: Vec<u8>) -> PushResponse {
    post_raw(
        client,
        base_url,
        body,
        &[
            ("Content-Type", CONTENT_TYPE_V2),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "2.0.0"),
        ],
    )
}

/// Posts a remote-write body with the headers a Prometheus 1.0 sender uses.
pub fn push_v1(client: &reqwest::blocking::Client, base_url: &str, request: &WriteRequest) -> PushResponse {
    post_raw(
        client,
        base_url,
        encode_v1(request),
        &[
            ("Content-Type", CONTENT_TYPE_V1),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
    )
}

/// Posts any body with any headers to `/api/v1/write`; transport errors fail the test.
pub fn post_raw(
    client: &reqwest::blocking::Client,
    base_url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> PushResponse {
    try_post_raw(client, base_url, body, headers)
        .unwrap_or_else(|err| panic!("POST {base_url}/api/v1/write failed: {err}"))
}

/// Like [`post_raw`] but returns transport errors (the durability test kills the server mid-request).
pub fn try_post_raw(
    client: &reqwest::blocking::Client,
    base_url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<PushResponse, reqwest::Error> {
    let mut request = client.post(format!("{base_url}/api/v1/write")).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text()?;
    Ok(PushResponse { status, body, headers })
}

/// A client with a timeout, so a hung server fails a test instead of hanging it.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|err| panic!("cannot build an HTTP client: {err}"))
}
