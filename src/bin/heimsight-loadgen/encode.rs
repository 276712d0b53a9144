//! Remote write 1.0 bodies: a `prometheus.WriteRequest` assembled from pre-encoded label
//! bytes, then snappy block-compressed. Assembling by hand keeps the generator's own CPU
//! cost low — on a 2-core machine every cycle it spends is taken from the target.

use heimsight::prom_api::proto::prompb::Sample;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// Builds one request body (uncompressed protobuf) from series given as their encoded
/// labels and their samples, in the order given.
pub struct RequestBuilder {
    buf: Vec<u8>,
}

impl RequestBuilder {
    pub fn new() -> Self {
        Self { buf: Vec::new() }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends one `TimeSeries` (WriteRequest field 1).
    pub fn push_series(&mut self, labels: &[u8], samples: &[(i64, f64)]) {
        let sample_len = |&(timestamp, value): &(i64, f64)| Sample { value, timestamp }.encoded_len();
        let samples_len: usize = samples
            .iter()
            .map(|s| {
                let len = sample_len(s);
                key_len(2) + encoded_len_varint(len as u64) + len
            })
            .sum();
        let series_len = labels.len() + samples_len;
        encode_key(1, WireType::LengthDelimited, &mut self.buf);
        encode_varint(series_len as u64, &mut self.buf);
        self.buf.extend_from_slice(labels);
        for &(timestamp, value) in samples {
            let sample = Sample { value, timestamp };
            encode_key(2, WireType::LengthDelimited, &mut self.buf);
            encode_varint(sample.encoded_len() as u64, &mut self.buf);
            sample.encode_raw(&mut self.buf);
        }
    }

    /// The snappy block-compressed body, as remote write 1.0 sends it.
    pub fn compressed(&self) -> Result<Vec<u8>, snap::Error> {
        snap::raw::Encoder::new().compress_vec(&self.buf)
    }

    #[cfg(test)]
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::encode_labels;
    use heimsight::prom_api::proto::prompb::{Label, TimeSeries, WriteRequest};

    #[test]
    fn assembled_body_equals_the_prost_encoding() {
        let a = vec![("__name__".to_string(), "a".to_string())];
        let b = vec![
            ("__name__".to_string(), "b".to_string()),
            ("x".to_string(), "y".to_string()),
        ];
        let mut builder = RequestBuilder::new();
        builder.push_series(&encode_labels(&a), &[(1000, 1.5), (2000, 0.0)]);
        builder.push_series(&encode_labels(&b), &[(-5, f64::MAX)]);
        let expected = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![Label::new("__name__", "a")],
                    samples: vec![
                        Sample {
                            value: 1.5,
                            timestamp: 1000,
                        },
                        Sample {
                            value: 0.0,
                            timestamp: 2000,
                        },
                    ],
                    ..TimeSeries::default()
                },
                TimeSeries {
                    labels: vec![Label::new("__name__", "b"), Label::new("x", "y")],
                    samples: vec![Sample {
                        value: f64::MAX,
                        timestamp: -5,
                    }],
                    ..TimeSeries::default()
                },
            ],
            metadata: Vec::new(),
        };
        assert_eq!(WriteRequest::decode(builder.raw()).expect("decodes"), expected);
        assert_eq!(builder.raw(), expected.encode_to_vec().as_slice());
    }

    #[test]
    fn compressed_body_round_trips_through_snappy() {
        let mut builder = RequestBuilder::new();
        builder.push_series(
            &encode_labels(&[("__name__".to_string(), "c".to_string())]),
            &[(1, 2.0)],
        );
        let body = builder.compressed().expect("compresses");
        let raw = snap::raw::Decoder::new().decompress_vec(&body).expect("decompresses");
        assert_eq!(raw.as_slice(), builder.raw());
        builder.clear();
        assert!(builder.raw().is_empty());
    }
}
