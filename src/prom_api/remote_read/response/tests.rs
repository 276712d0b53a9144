use super::*;
use crate::storage::model::{BucketSpan, Sample, stale_nan};

/// Reads frames back, checking each CRC; returns the decoded messages.
pub(crate) fn read_frames(mut bytes: &[u8]) -> Vec<prompb::ChunkedReadResponse> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let b = bytes[0];
            bytes = &bytes[1..];
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        let crc = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let data = &bytes[4..4 + len as usize];
        assert_eq!(crc, crc32c::crc32c(data), "frame checksum");
        out.push(prompb::ChunkedReadResponse::decode(data).unwrap());
        bytes = &bytes[4 + len as usize..];
    }
    out
}

fn series(name: &str, n: usize) -> Series {
    Series {
        labels: Labels::from_pairs([("__name__", name), ("job", "j")]),
        samples: (0..n as i64)
            .map(|i| Sample {
                t: i * 1000,
                v: i as f64,
            })
            .collect(),
        histograms: vec![],
        start_timestamps: Vec::new(),
    }
}

#[test]
fn frame_layout_is_uvarint_crc_data() {
    let mut out = Vec::new();
    let data = vec![0xab; 200];
    write_frame(&mut out, &data);
    // 200 = 0xc8 → uvarint c8 01.
    assert_eq!(&out[..2], &[0xc8, 0x01]);
    assert_eq!(&out[2..6], &crc32c::crc32c(&data).to_be_bytes());
    assert_eq!(&out[6..], &data[..]);
    // Known CRC-32C check value ("123456789" → 0xe3069283).
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn chunks_hold_at_most_120_samples_with_exact_bounds() {
    let s = series("up", 250);
    let chunks = xor_chunks(&s);
    assert_eq!(chunks.len(), 3);
    assert_eq!((chunks[0].min_time_ms, chunks[0].max_time_ms), (0, 119_000));
    assert_eq!((chunks[2].min_time_ms, chunks[2].max_time_ms), (240_000, 249_000));
    assert!(chunks.iter().all(|c| c.r#type == prompb::CHUNK_ENCODING_XOR));
    // The bytes are the store's XOR encoding of exactly those samples.
    let mut expected = XorChunk::new();
    for x in &s.samples[240..] {
        expected.append(x.t, x.v);
    }
    assert_eq!(chunks[2].data, expected.bytes());
}

#[test]
fn frames_decode_back_with_query_index_and_labels() {
    let mut out = Vec::new();
    write_chunked_frames(&mut out, 3, &[series("a", 130), series("b", 5)], 1024 * 1024);
    let frames = read_frames(&out);
    assert_eq!(frames.len(), 2, "one frame per series when everything fits");
    assert!(frames.iter().all(|f| f.query_index == 3));
    assert_eq!(frames[0].chunked_series[0].chunks.len(), 2);
    assert_eq!(
        frames[0].chunked_series[0].labels[0],
        prompb::Label::new("__name__", "a")
    );
    assert_eq!(
        frames[1].chunked_series[0].labels[0],
        prompb::Label::new("__name__", "b")
    );
}

#[test]
fn small_frame_limit_cuts_after_each_chunk() {
    let mut out = Vec::new();
    write_chunked_frames(&mut out, 0, &[series("a", 360)], 1);
    let frames = read_frames(&out);
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f.chunked_series[0].chunks.len() == 1));
}

#[test]
fn series_without_float_samples_yield_no_frames() {
    let mut out = Vec::new();
    write_chunked_frames(&mut out, 0, &[series("a", 0)], 1024);
    assert!(out.is_empty());
}

#[test]
fn query_result_keeps_values_bit_exact_and_enforces_the_limit() {
    let mut s = series("up", 2);
    s.samples.push(Sample {
        t: 5000,
        v: stale_nan(),
    });
    let result = to_query_result(std::slice::from_ref(&s), 0).unwrap();
    let samples = &result.timeseries[0].samples;
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[2].value.to_bits(), stale_nan().to_bits());
    assert_eq!(
        to_query_result(&[s.clone(), s], 5).unwrap_err(),
        "exceeded sample limit (5)"
    );
}

#[test]
fn histograms_go_back_to_their_wire_form() {
    let h = NativeHistogram {
        counts: HistogramCounts::Int {
            count: 3,
            zero_count: 1,
            negative_deltas: vec![],
            positive_deltas: vec![2],
        },
        sum: 4.5,
        schema: 1,
        zero_threshold: 0.01,
        negative_spans: vec![],
        positive_spans: vec![BucketSpan { offset: 1, length: 1 }],
        reset_hint: 0,
        custom_values: vec![],
    };
    let s = Series {
        labels: Labels::from_pairs([("__name__", "h")]),
        samples: vec![],
        histograms: vec![HistogramSample { t: 9, h }],
        start_timestamps: Vec::new(),
    };
    let result = to_query_result(&[s], 0).unwrap();
    let proto = &result.timeseries[0].histograms[0];
    assert_eq!(proto.count, Some(prompb::histogram::Count::CountInt(3)));
    assert_eq!(proto.positive_deltas, vec![2]);
    assert_eq!(proto.timestamp, 9);
    let back = crate::prom_api::remote_write::convert_histogram_for_tests(proto).unwrap();
    assert_eq!(back.positive_spans, vec![BucketSpan { offset: 1, length: 1 }]);
}
