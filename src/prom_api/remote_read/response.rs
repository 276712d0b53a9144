//! Encoding remote-read answers as Prometheus does (`storage/remote/codec.go` `ToQueryResult`,
//! `StreamChunkedReadResponses`, `chunked.go` `ChunkedWriter`).

use crate::prom_api::proto::prompb;
use crate::storage::Labels;
use crate::storage::chunk::XorChunk;
use crate::storage::model::{HistogramCounts, HistogramSample, NativeHistogram, Series};
use prost::Message;

/// Prometheus' head cuts XOR chunks at 120 samples; streamed chunks have the same size.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A query result for the SAMPLES response type. `sample_limit` (0 = none) counts floats and
/// histograms together, per query, as Prometheus does.
pub fn to_query_result(series: &[Series], sample_limit: usize) -> Result<prompb::QueryResult, String> {
    check_sample_limit(series, sample_limit)?;
    let mut result = prompb::QueryResult::default();
    for s in series {
        result.timeseries.push(prompb::TimeSeries {
            labels: to_proto_labels(&s.labels),
            samples: s
                .samples
                .iter()
                .map(|x| prompb::Sample {
                    value: x.v,
                    timestamp: x.t,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: s.histograms.iter().map(to_proto_histogram).collect(),
        });
    }
    Ok(result)
}

/// Prometheus' "exceeded sample limit" check (floats and histograms together, 0 = none).
pub fn check_sample_limit(series: &[Series], sample_limit: usize) -> Result<(), String> {
    let count = series.iter().fold(0usize, |n, s| {
        n.saturating_add(s.samples.len()).saturating_add(s.histograms.len())
    });
    if sample_limit > 0 && count > sample_limit {
        return Err(format!("exceeded sample limit ({sample_limit})"));
    }
    Ok(())
}

/// The snappy-compressed `ReadResponse` body.
pub fn encode_read_response(results: Vec<prompb::QueryResult>) -> Vec<u8> {
    let bytes = prompb::ReadResponse { results }.encode_to_vec();
    // Compression of an in-memory buffer only fails above snappy's 4 GiB block size, which
    // a response bounded by the sample limit does not reach; answer empty rather than panic.
    snap::raw::Encoder::new().compress_vec(&bytes).unwrap_or_default()
}

pub fn to_proto_labels(labels: &Labels) -> Vec<prompb::Label> {
    labels.iter().map(|l| prompb::Label::new(&l.name, &l.value)).collect()
}

fn to_proto_histogram(sample: &HistogramSample) -> prompb::Histogram {
    let h: &NativeHistogram = &sample.h;
    let spans = |s: &[crate::storage::model::BucketSpan]| -> Vec<prompb::BucketSpan> {
        s.iter()
            .map(|s| prompb::BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let mut out = prompb::Histogram {
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        negative_spans: spans(&h.negative_spans),
        positive_spans: spans(&h.positive_spans),
        reset_hint: h.reset_hint,
        timestamp: sample.t,
        custom_values: h.custom_values.clone(),
        ..Default::default()
    };
    match &h.counts {
        HistogramCounts::Int {
            count,
            zero_count,
            negative_deltas,
            positive_deltas,
        } => {
            out.count = Some(prompb::histogram::Count::CountInt(*count));
            out.zero_count = Some(prompb::histogram::ZeroCount::ZeroCountInt(*zero_count));
            out.negative_deltas = negative_deltas.clone();
            out.positive_deltas = positive_deltas.clone();
        }
        HistogramCounts::Float {
            count,
            zero_count,
            negative_counts,
            positive_counts,
        } => {
            out.count = Some(prompb::histogram::Count::CountFloat(*count));
            out.zero_count = Some(prompb::histogram::ZeroCount::ZeroCountFloat(*zero_count));
            out.negative_counts = negative_counts.clone();
            out.positive_counts = positive_counts.clone();
        }
    }
    out
}

/// XOR chunks of one series' float samples, at most [`SAMPLES_PER_CHUNK`] each.
pub fn xor_chunks(series: &Series) -> Vec<prompb::Chunk> {
    series
        .samples
        .chunks(SAMPLES_PER_CHUNK)
        .filter_map(|part| {
            let (first, last) = (part.first()?, part.last()?);
            let mut chunk = XorChunk::new();
            for s in part {
                chunk.append(s.t, s.v);
            }
            Some(prompb::Chunk {
                min_time_ms: first.t,
                max_time_ms: last.t,
                r#type: prompb::CHUNK_ENCODING_XOR,
                data: chunk.bytes().to_vec(),
            })
        })
        .collect()
}

/// Appends the frames of one query to `out`. Like Prometheus, a frame holds chunks of one
/// series and is cut once its chunks (plus the series' labels) reach `max_bytes_in_frame`,
/// so one frame may exceed it by at most one chunk. Native histogram samples are not
/// streamed: their chunk encodings are not implemented yet.
pub fn write_chunked_frames(out: &mut Vec<u8>, query_index: i64, series: &[Series], max_bytes_in_frame: usize) {
    for s in series {
        let labels = to_proto_labels(&s.labels);
        let label_bytes: usize = labels.iter().map(Message::encoded_len).sum();
        let max_data = max_bytes_in_frame as i64 - label_bytes as i64;
        let mut left = max_data;
        let mut pending: Vec<prompb::Chunk> = Vec::new();
        let chunks = xor_chunks(s);
        let total = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            left -= chunk.encoded_len() as i64;
            pending.push(chunk);
            let more = i + 1 < total;
            if left > 0 && more {
                continue;
            }
            let frame = prompb::ChunkedReadResponse {
                chunked_series: vec![prompb::ChunkedSeries {
                    labels: labels.clone(),
                    chunks: std::mem::take(&mut pending),
                }],
                query_index,
            };
            write_frame(out, &frame.encode_to_vec());
            left = max_data;
        }
    }
}

/// One frame: uvarint length, big-endian CRC32-Castagnoli of the data, the data.
pub fn write_frame(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut len = data.len() as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(&crc32c::crc32c(data).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
pub(crate) mod tests;
