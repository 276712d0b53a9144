//! A compact, bit-exact binary form of one native histogram: the `h` column of
//! `histograms.parquet` and the histogram payload of WAL records use the same bytes.
//!
//! Not JSON: serde_json writes NaN as `null`, which would lose the stale marker in `sum` and
//! any NaN bucket count. Little-endian fixed-width fields with length-prefixed lists; decoding
//! checks every length against the bytes left, so a corrupt value cannot make us allocate
//! more than the value's own size.

use crate::storage::model::{BucketSpan, HistogramCounts, NativeHistogram};

const VERSION: u8 = 1;
const KIND_INT: u8 = 0;
const KIND_FLOAT: u8 = 1;

pub fn encode_histogram(h: &NativeHistogram) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    match &h.counts {
        HistogramCounts::Int {
            count,
            zero_count,
            negative_deltas,
            positive_deltas,
        } => {
            out.push(KIND_INT);
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&zero_count.to_le_bytes());
            put_list(&mut out, negative_deltas, |o, v| o.extend_from_slice(&v.to_le_bytes()));
            put_list(&mut out, positive_deltas, |o, v| o.extend_from_slice(&v.to_le_bytes()));
        }
        HistogramCounts::Float {
            count,
            zero_count,
            negative_counts,
            positive_counts,
        } => {
            out.push(KIND_FLOAT);
            out.extend_from_slice(&count.to_bits().to_le_bytes());
            out.extend_from_slice(&zero_count.to_bits().to_le_bytes());
            put_list(&mut out, negative_counts, |o, v| {
                o.extend_from_slice(&v.to_bits().to_le_bytes())
            });
            put_list(&mut out, positive_counts, |o, v| {
                o.extend_from_slice(&v.to_bits().to_le_bytes())
            });
        }
    }
    out.extend_from_slice(&h.sum.to_bits().to_le_bytes());
    out.extend_from_slice(&h.schema.to_le_bytes());
    out.extend_from_slice(&h.zero_threshold.to_bits().to_le_bytes());
    put_list(&mut out, &h.negative_spans, put_span);
    put_list(&mut out, &h.positive_spans, put_span);
    out.extend_from_slice(&h.reset_hint.to_le_bytes());
    put_list(&mut out, &h.custom_values, |o, v| {
        o.extend_from_slice(&v.to_bits().to_le_bytes())
    });
    out
}

fn put_span(out: &mut Vec<u8>, span: &BucketSpan) {
    out.extend_from_slice(&span.offset.to_le_bytes());
    out.extend_from_slice(&span.length.to_le_bytes());
}

fn put_list<T>(out: &mut Vec<u8>, items: &[T], put: impl Fn(&mut Vec<u8>, &T)) {
    let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    for item in items.iter().take(len as usize) {
        put(out, item);
    }
}

/// Why a stored histogram could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad native histogram encoding: {0}")]
pub struct HistogramDecodeError(&'static str);

pub fn decode_histogram(bytes: &[u8]) -> Result<NativeHistogram, HistogramDecodeError> {
    let mut cursor = Cursor { bytes };
    if cursor.u8()? != VERSION {
        return Err(HistogramDecodeError("unknown version"));
    }
    let counts = match cursor.u8()? {
        KIND_INT => HistogramCounts::Int {
            count: u64::from_le_bytes(cursor.array()?),
            zero_count: u64::from_le_bytes(cursor.array()?),
            negative_deltas: cursor.list(8, |c| Ok(i64::from_le_bytes(c.array()?)))?,
            positive_deltas: cursor.list(8, |c| Ok(i64::from_le_bytes(c.array()?)))?,
        },
        KIND_FLOAT => HistogramCounts::Float {
            count: cursor.f64()?,
            zero_count: cursor.f64()?,
            negative_counts: cursor.list(8, Cursor::f64)?,
            positive_counts: cursor.list(8, Cursor::f64)?,
        },
        _ => return Err(HistogramDecodeError("unknown counts kind")),
    };
    let sum = cursor.f64()?;
    let schema = i32::from_le_bytes(cursor.array()?);
    let zero_threshold = cursor.f64()?;
    let negative_spans = cursor.list(8, Cursor::span)?;
    let positive_spans = cursor.list(8, Cursor::span)?;
    let reset_hint = i32::from_le_bytes(cursor.array()?);
    let custom_values = cursor.list(8, Cursor::f64)?;
    if !cursor.bytes.is_empty() {
        return Err(HistogramDecodeError("trailing bytes"));
    }
    Ok(NativeHistogram {
        counts,
        sum,
        schema,
        zero_threshold,
        negative_spans,
        positive_spans,
        reset_hint,
        custom_values,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], HistogramDecodeError> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err(HistogramDecodeError("truncated"));
        };
        self.bytes = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, HistogramDecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn f64(&mut self) -> Result<f64, HistogramDecodeError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    fn span(&mut self) -> Result<BucketSpan, HistogramDecodeError> {
        Ok(BucketSpan {
            offset: i32::from_le_bytes(self.array()?),
            length: u32::from_le_bytes(self.array()?),
        })
    }

    /// A length-prefixed list whose items take `item_size` bytes each; the length is checked
    /// against what is left before anything is allocated.
    fn list<T>(
        &mut self,
        item_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, HistogramDecodeError>,
    ) -> Result<Vec<T>, HistogramDecodeError> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len.saturating_mul(item_size) > self.bytes.len() {
            return Err(HistogramDecodeError("list longer than the value"));
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(item(self)?);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::STALE_NAN_BITS;

    fn int_histogram() -> NativeHistogram {
        NativeHistogram {
            counts: HistogramCounts::Int {
                count: 12,
                zero_count: 2,
                negative_deltas: vec![1, -1],
                positive_deltas: vec![3, 2, -4],
            },
            sum: 18.4,
            schema: 3,
            zero_threshold: 1e-128,
            negative_spans: vec![BucketSpan { offset: 0, length: 2 }],
            positive_spans: vec![BucketSpan { offset: -2, length: 3 }],
            reset_hint: 1,
            custom_values: vec![],
        }
    }

    #[test]
    fn roundtrips_int_and_float_histograms_bit_exactly() {
        let h = int_histogram();
        assert_eq!(decode_histogram(&encode_histogram(&h)).unwrap(), h);

        let stale = NativeHistogram {
            counts: HistogramCounts::Float {
                count: 3.5,
                zero_count: f64::NAN,
                negative_counts: vec![],
                positive_counts: vec![1.0, 2.5],
            },
            sum: f64::from_bits(STALE_NAN_BITS),
            schema: -53,
            custom_values: vec![0.1, 1.0, f64::INFINITY],
            ..int_histogram()
        };
        let back = decode_histogram(&encode_histogram(&stale)).unwrap();
        assert_eq!(back.sum.to_bits(), STALE_NAN_BITS);
        assert_eq!(back.custom_values, stale.custom_values);
        assert_eq!(back.schema, -53);
    }

    #[test]
    fn rejects_truncated_and_oversized_input_without_panicking() {
        let bytes = encode_histogram(&int_histogram());
        for cut in 0..bytes.len() {
            assert!(decode_histogram(&bytes[..cut]).is_err());
        }
        // A list claiming 4 billion items in a tiny value.
        let mut hostile = vec![VERSION, KIND_INT];
        hostile.extend_from_slice(&[0; 16]);
        hostile.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_histogram(&hostile),
            Err(HistogramDecodeError("list longer than the value"))
        );
    }
}
