//! A remote-read client: builds `ReadRequest`s and decodes both response types, including the
//! framing and Gorilla-XOR chunks of STREAMED_XOR_CHUNKS (an independent decoder, so that the
//! server's encoder is checked against the format and not against itself).

use super::prompb::{
    CHUNK_ENCODING_XOR, ChunkedReadResponse, Label, LabelMatcher, Query, RESPONSE_TYPE_SAMPLES, ReadRequest,
    ReadResponse,
};
use prost::Message;

/// One series as read back: sorted labels and `(timestamp_ms, value)` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadSeries {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

pub fn matcher_eq(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: 0,
        name: name.to_string(),
        value: value.to_string(),
    }
}

pub fn matcher_re(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: 2,
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// The response type, content type and decoded series of one remote-read call.
pub struct ReadOutcome {
    pub status: u16,
    pub content_type: String,
    pub content_encoding: String,
    /// Per query, in query order.
    pub results: Vec<Vec<ReadSeries>>,
    /// The body when the status is not 200.
    pub error_body: String,
}

/// Posts one remote-read request with the headers Prometheus' client sends.
pub fn read(
    client: &reqwest::blocking::Client,
    base_url: &str,
    queries: Vec<(i64, i64, Vec<LabelMatcher>)>,
    accepted_response_types: Vec<i32>,
) -> ReadOutcome {
    let query_count = queries.len();
    let request = ReadRequest {
        queries: queries
            .into_iter()
            .map(|(start, end, matchers)| Query {
                start_timestamp_ms: start,
                end_timestamp_ms: end,
                matchers,
            })
            .collect(),
        accepted_response_types,
    };
    let body = super::remote_write::snappy(&request.encode_to_vec());
    let response = client
        .post(format!("{base_url}/api/v1/read"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("Accept-Encoding", "snappy")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap_or_else(|err| panic!("POST {base_url}/api/v1/read failed: {err}"));
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let bytes = response
        .bytes()
        .unwrap_or_else(|err| panic!("reading the remote-read body failed: {err}"));
    if status != 200 {
        return ReadOutcome {
            status,
            content_type,
            content_encoding,
            results: Vec::new(),
            error_body: String::from_utf8_lossy(&bytes).into_owned(),
        };
    }
    let results = if content_type.starts_with("application/x-streamed-protobuf") {
        decode_streamed(&bytes, query_count)
    } else {
        decode_samples(&bytes)
    };
    ReadOutcome {
        status,
        content_type,
        content_encoding,
        results,
        error_body: String::new(),
    }
}

/// Convenience for the SAMPLES response type.
pub fn read_samples(
    client: &reqwest::blocking::Client,
    base_url: &str,
    start: i64,
    end: i64,
    matchers: Vec<LabelMatcher>,
) -> Vec<ReadSeries> {
    let outcome = read(
        client,
        base_url,
        vec![(start, end, matchers)],
        vec![RESPONSE_TYPE_SAMPLES],
    );
    assert_eq!(outcome.status, 200, "remote read failed: {}", outcome.error_body);
    outcome.results.into_iter().next().unwrap_or_default()
}

fn sorted_labels(labels: Vec<Label>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = labels.into_iter().map(|l| (l.name, l.value)).collect();
    pairs.sort();
    pairs
}

fn decode_samples(body: &[u8]) -> Vec<Vec<ReadSeries>> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .unwrap_or_else(|err| panic!("SAMPLES response is not snappy block format: {err}"));
    let response = ReadResponse::decode(raw.as_slice())
        .unwrap_or_else(|err| panic!("SAMPLES response is not a ReadResponse: {err}"));
    response
        .results
        .into_iter()
        .map(|result| {
            result
                .timeseries
                .into_iter()
                .map(|series| ReadSeries {
                    labels: sorted_labels(series.labels),
                    samples: series.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                })
                .collect()
        })
        .collect()
}

/// Frames are `uvarint(len) | big-endian CRC32-Castagnoli(data) | data`.
fn decode_streamed(body: &[u8], query_count: usize) -> Vec<Vec<ReadSeries>> {
    let mut results: Vec<Vec<ReadSeries>> = vec![Vec::new(); query_count];
    let mut rest = body;
    while !rest.is_empty() {
        let (length, used) = read_uvarint(rest).unwrap_or_else(|| panic!("bad frame length varint"));
        rest = &rest[used..];
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        assert!(
            rest.len() >= 4 + length,
            "truncated frame: need {} bytes, have {}",
            4 + length,
            rest.len()
        );
        let expected_crc = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let data = &rest[4..4 + length];
        assert_eq!(crc32c::crc32c(data), expected_crc, "frame CRC32C mismatch");
        rest = &rest[4 + length..];
        let frame =
            ChunkedReadResponse::decode(data).unwrap_or_else(|err| panic!("frame is not a ChunkedReadResponse: {err}"));
        let index = usize::try_from(frame.query_index).unwrap_or(usize::MAX);
        assert!(index < query_count, "frame names query {index} of {query_count}");
        for series in frame.chunked_series {
            let mut samples = Vec::new();
            for chunk in &series.chunks {
                assert_eq!(chunk.r#type, CHUNK_ENCODING_XOR, "only XOR chunks are expected");
                let decoded = decode_xor_chunk(&chunk.data);
                if let (Some(first), Some(last)) = (decoded.first(), decoded.last()) {
                    assert_eq!(first.0, chunk.min_time_ms, "chunk min_time_ms is not its first sample");
                    assert_eq!(last.0, chunk.max_time_ms, "chunk max_time_ms is not its last sample");
                }
                samples.extend(decoded);
            }
            let labels = sorted_labels(series.labels);
            // A series may continue in the next frame; Prometheus' client appends the chunks.
            match results[index].last_mut() {
                Some(previous) if previous.labels == labels => previous.samples.extend(samples),
                _ => results[index].push(ReadSeries { labels, samples }),
            }
        }
    }
    results
}

fn read_uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> bool {
        let byte = self.position / 8;
        assert!(byte < self.bytes.len(), "XOR chunk ends early");
        let bit = (self.bytes[byte] >> (7 - self.position % 8)) & 1;
        self.position += 1;
        bit == 1
    }

    fn bits(&mut self, count: u32) -> u64 {
        let mut value = 0u64;
        for _ in 0..count {
            value = (value << 1) | u64::from(self.bit());
        }
        value
    }

    fn byte(&mut self) -> u8 {
        self.bits(8) as u8
    }

    fn uvarint(&mut self) -> u64 {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.byte();
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("XOR chunk varint too long")
    }

    fn varint(&mut self) -> i64 {
        let zigzag = self.uvarint();
        ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64)
    }
}

/// Decodes a Prometheus `chunkenc` XOR chunk: a 2-byte big-endian sample count, then the first
/// timestamp (varint) and value (64 bits), the second timestamp as a uvarint delta, and then
/// delta-of-delta timestamps and XOR-compressed values.
pub fn decode_xor_chunk(data: &[u8]) -> Vec<(i64, f64)> {
    assert!(data.len() >= 2, "XOR chunk without a header");
    let count = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let mut reader = BitReader {
        bytes: &data[2..],
        position: 0,
    };
    let mut samples = Vec::with_capacity(count);
    let mut timestamp = 0i64;
    let mut delta = 0i64;
    let mut value_bits = 0u64;
    let mut leading = 0u32;
    let mut trailing = 0u32;
    for index in 0..count {
        match index {
            0 => {
                timestamp = reader.varint();
                value_bits = reader.bits(64);
            }
            1 => {
                delta = reader.uvarint() as i64;
                timestamp += delta;
                read_xor_value(&mut reader, &mut value_bits, &mut leading, &mut trailing);
            }
            _ => {
                let mut prefix = 0;
                while prefix < 4 && reader.bit() {
                    prefix += 1;
                }
                let width = match prefix {
                    0 => 0,
                    1 => 14,
                    2 => 17,
                    3 => 20,
                    _ => 64,
                };
                let mut dod = 0i64;
                if width == 64 {
                    dod = reader.bits(64) as i64;
                } else if width > 0 {
                    let raw = reader.bits(width);
                    dod = if raw > (1u64 << (width - 1)) {
                        raw as i64 - (1i64 << width)
                    } else {
                        raw as i64
                    };
                }
                delta += dod;
                timestamp += delta;
                read_xor_value(&mut reader, &mut value_bits, &mut leading, &mut trailing);
            }
        }
        samples.push((timestamp, f64::from_bits(value_bits)));
    }
    samples
}

fn read_xor_value(reader: &mut BitReader, value_bits: &mut u64, leading: &mut u32, trailing: &mut u32) {
    if !reader.bit() {
        return;
    }
    if reader.bit() {
        *leading = reader.bits(5) as u32;
        let mut significant = reader.bits(6) as u32;
        if significant == 0 {
            significant = 64;
        }
        *trailing = 64 - *leading - significant;
    }
    let significant = 64 - *leading - *trailing;
    let bits = reader.bits(significant);
    *value_bits ^= bits << *trailing;
}
