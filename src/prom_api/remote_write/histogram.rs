//! Native histograms from remote write: the validation the Prometheus TSDB applies on append
//! (`model/histogram` `Histogram.Validate` / `FloatHistogram.Validate`), with its error texts,
//! then conversion to the store's record. A histogram the TSDB would refuse is refused here,
//! so the store never holds buckets that disagree with their spans.

use crate::prom_api::proto::prompb::{self, histogram as pb};
use crate::storage::model::{BucketSpan, HistogramCounts, NativeHistogram};

const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
const EXPONENTIAL_SCHEMA_MAX: i32 = 8;
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Validates and converts; the error is Prometheus' text for the first problem found.
pub fn convert_histogram(h: &prompb::Histogram) -> Result<NativeHistogram, String> {
    let is_float = matches!(h.count, Some(pb::Count::CountFloat(_)));
    let counts = if is_float {
        HistogramCounts::Float {
            count: match h.count {
                Some(pb::Count::CountFloat(c)) => c,
                _ => 0.0,
            },
            zero_count: match h.zero_count {
                Some(pb::ZeroCount::ZeroCountFloat(c)) => c,
                _ => 0.0,
            },
            negative_counts: h.negative_counts.clone(),
            positive_counts: h.positive_counts.clone(),
        }
    } else {
        HistogramCounts::Int {
            count: match h.count {
                Some(pb::Count::CountInt(c)) => c,
                _ => 0,
            },
            zero_count: match h.zero_count {
                Some(pb::ZeroCount::ZeroCountInt(c)) => c,
                _ => 0,
            },
            negative_deltas: h.negative_deltas.clone(),
            positive_deltas: h.positive_deltas.clone(),
        }
    };
    let spans = |s: &[prompb::BucketSpan]| -> Vec<BucketSpan> {
        s.iter()
            .map(|s| BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let histogram = NativeHistogram {
        counts,
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        negative_spans: spans(&h.negative_spans),
        positive_spans: spans(&h.positive_spans),
        reset_hint: h.reset_hint,
        custom_values: h.custom_values.clone(),
    };
    validate(&histogram)?;
    Ok(histogram)
}

fn validate(h: &NativeHistogram) -> Result<(), String> {
    let (negative_len, positive_len, zero_count_negative, zero_count_nonzero) = match &h.counts {
        HistogramCounts::Int {
            negative_deltas,
            positive_deltas,
            zero_count,
            ..
        } => (negative_deltas.len(), positive_deltas.len(), false, *zero_count != 0),
        HistogramCounts::Float {
            negative_counts,
            positive_counts,
            zero_count,
            ..
        } => (
            negative_counts.len(),
            positive_counts.len(),
            *zero_count < 0.0,
            *zero_count != 0.0,
        ),
    };
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        check_custom_bounds(&h.custom_values, &h.positive_spans, positive_len)
            .map_err(|e| format!("custom buckets: {e}"))?;
        if zero_count_nonzero {
            return Err("custom buckets: must have zero count of 0".into());
        }
        if h.zero_threshold != 0.0 {
            return Err("custom buckets: must have zero threshold of 0".into());
        }
        if !h.negative_spans.is_empty() {
            return Err("custom buckets: must not have negative spans".into());
        }
        if negative_len > 0 {
            return Err("custom buckets: must not have negative buckets".into());
        }
    } else if (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&h.schema) {
        check_spans(&h.positive_spans, positive_len).map_err(|e| format!("positive side: {e}"))?;
        check_spans(&h.negative_spans, negative_len).map_err(|e| format!("negative side: {e}"))?;
    } else {
        return Err(format!(
            "histogram has an invalid schema, which must be between {EXPONENTIAL_SCHEMA_MIN} and \
             {EXPONENTIAL_SCHEMA_MAX} for exponential buckets, or {CUSTOM_BUCKETS_SCHEMA} for custom buckets, got schema {}",
            h.schema
        ));
    }
    match &h.counts {
        HistogramCounts::Int {
            count,
            zero_count,
            negative_deltas,
            positive_deltas,
        } => {
            let negative = check_deltas(negative_deltas).map_err(|e| format!("negative side: {e}"))?;
            if !h.custom_values.is_empty() && h.schema != CUSTOM_BUCKETS_SCHEMA {
                return Err(EXP_SCHEMA_CUSTOM_BOUNDS.into());
            }
            let positive = check_deltas(positive_deltas).map_err(|e| format!("positive side: {e}"))?;
            // Go sums in uint64 and wraps; so do we.
            let in_buckets = negative.wrapping_add(positive).wrapping_add(*zero_count);
            if h.sum.is_nan() {
                if in_buckets > *count {
                    return Err(format!(
                        "{in_buckets} observations found in buckets, but the Count field is {count}: histogram's \
                         observation count should be at least the number of observations found in the buckets"
                    ));
                }
            } else if in_buckets != *count {
                return Err(format!(
                    "{in_buckets} observations found in buckets, but the Count field is {count}: histogram's \
                     observation count should equal the number of observations found in the buckets (in absence of NaN)"
                ));
            }
        }
        HistogramCounts::Float {
            count,
            zero_count,
            negative_counts,
            positive_counts,
        } => {
            if h.schema != CUSTOM_BUCKETS_SCHEMA {
                check_float_counts(negative_counts).map_err(|e| format!("negative side: {e}"))?;
                if zero_count_negative {
                    return Err(format!(
                        "zero bucket has observation count of {}: {NEGATIVE_BUCKET}",
                        go_float(*zero_count)
                    ));
                }
                if !h.custom_values.is_empty() {
                    return Err(EXP_SCHEMA_CUSTOM_BOUNDS.into());
                }
            }
            if *count < 0.0 {
                return Err(format!(
                    "observation count is  {}: histogram's observation count is negative",
                    go_float(*count)
                ));
            }
            check_float_counts(positive_counts).map_err(|e| format!("positive side: {e}"))?;
        }
    }
    Ok(())
}

const NEGATIVE_BUCKET: &str = "histogram has a bucket whose observation count is negative";
const SPANS_MISMATCH: &str = "histogram spans specify different number of buckets than provided";
const NEGATIVE_OFFSET: &str = "histogram has a span whose offset is negative";
const EXP_SCHEMA_CUSTOM_BOUNDS: &str = "histogram with exponential schema must not have custom bounds";

fn check_spans(spans: &[BucketSpan], buckets: usize) -> Result<(), String> {
    let mut needed: u64 = 0;
    for (n, span) in spans.iter().enumerate() {
        if n > 0 && span.offset < 0 {
            return Err(format!(
                "span number {} with offset {}: {NEGATIVE_OFFSET}",
                n + 1,
                span.offset
            ));
        }
        needed += u64::from(span.length);
    }
    if needed != buckets as u64 {
        return Err(format!(
            "spans need {needed} buckets, have {buckets} buckets: {SPANS_MISMATCH}"
        ));
    }
    Ok(())
}

/// Integer buckets are deltas; every running count must stay non-negative. Returns the sum.
fn check_deltas(deltas: &[i64]) -> Result<u64, String> {
    let mut current: i64 = 0;
    let mut total: u64 = 0;
    for (i, delta) in deltas.iter().enumerate() {
        current = current.wrapping_add(*delta);
        if current < 0 {
            return Err(format!(
                "bucket number {} has observation count of {current}: {NEGATIVE_BUCKET}",
                i + 1
            ));
        }
        total = total.wrapping_add(current as u64);
    }
    Ok(total)
}

fn check_float_counts(counts: &[f64]) -> Result<(), String> {
    for (i, c) in counts.iter().enumerate() {
        if *c < 0.0 {
            return Err(format!(
                "bucket number {} has observation count of {}: {NEGATIVE_BUCKET}",
                i + 1,
                go_float(*c)
            ));
        }
    }
    Ok(())
}

fn check_custom_bounds(bounds: &[f64], spans: &[BucketSpan], buckets: usize) -> Result<(), String> {
    let mut prev = f64::NEG_INFINITY;
    for (i, current) in bounds.iter().copied().enumerate() {
        if current.is_nan() {
            return Err("histogram custom bounds must not be NaN".into());
        }
        if i > 0 && current <= prev {
            return Err(format!(
                "previous bound is {} and current is {}: histogram custom bounds must be in strictly increasing order",
                go_fixed(prev),
                go_fixed(current)
            ));
        }
        prev = current;
    }
    if prev == f64::INFINITY {
        return Err("last +Inf bound must not be explicitly defined: histogram custom bounds must be finite".into());
    }
    let mut needed: u64 = 0;
    let mut total_span_length: i64 = 0;
    for (n, span) in spans.iter().enumerate() {
        if span.offset < 0 {
            return Err(format!(
                "span number {} with offset {}: {NEGATIVE_OFFSET}",
                n + 1,
                span.offset
            ));
        }
        needed += u64::from(span.length);
        total_span_length += i64::from(span.length) + i64::from(span.offset);
    }
    if needed != buckets as u64 {
        return Err(format!(
            "spans need {needed} buckets, have {buckets} buckets: {SPANS_MISMATCH}"
        ));
    }
    if (bounds.len() as i64 + 1) < total_span_length {
        return Err(format!(
            "only {} custom bounds defined which is insufficient to cover total span length of {total_span_length}: \
             histogram custom bounds are too few",
            bounds.len()
        ));
    }
    Ok(())
}

/// Go's `%v` for a float (good enough for the counts these messages print).
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

/// Go's `%f`.
fn go_fixed(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_histogram() -> prompb::Histogram {
        prompb::Histogram {
            count: Some(pb::Count::CountInt(5)),
            sum: 10.0,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(pb::ZeroCount::ZeroCountInt(1)),
            positive_spans: vec![prompb::BucketSpan { offset: 0, length: 2 }],
            positive_deltas: vec![2, -1],
            negative_spans: vec![prompb::BucketSpan { offset: 1, length: 1 }],
            negative_deltas: vec![1],
            reset_hint: 2,
            timestamp: 1000,
            ..Default::default()
        }
    }

    #[test]
    fn valid_int_histogram_converts() {
        let h = convert_histogram(&int_histogram()).unwrap();
        assert_eq!(
            h.counts,
            HistogramCounts::Int {
                count: 5,
                zero_count: 1,
                negative_deltas: vec![1],
                positive_deltas: vec![2, -1]
            }
        );
        assert_eq!(h.reset_hint, 2);
        assert_eq!(h.positive_spans, vec![BucketSpan { offset: 0, length: 2 }]);
    }

    #[test]
    fn count_mismatch_is_refused() {
        let mut h = int_histogram();
        h.count = Some(pb::Count::CountInt(4));
        assert_eq!(
            convert_histogram(&h).unwrap_err(),
            "5 observations found in buckets, but the Count field is 4: histogram's observation count should equal \
             the number of observations found in the buckets (in absence of NaN)"
        );
    }

    #[test]
    fn span_mismatch_and_negative_buckets_are_refused() {
        let mut h = int_histogram();
        h.positive_deltas = vec![2];
        assert_eq!(
            convert_histogram(&h).unwrap_err(),
            "positive side: spans need 2 buckets, have 1 buckets: histogram spans specify different number of \
             buckets than provided"
        );
        let mut h = int_histogram();
        h.positive_deltas = vec![1, -2];
        assert_eq!(
            convert_histogram(&h).unwrap_err(),
            "positive side: bucket number 2 has observation count of -1: histogram has a bucket whose observation \
             count is negative"
        );
    }

    #[test]
    fn invalid_schema_is_refused() {
        let mut h = int_histogram();
        h.schema = 9;
        assert_eq!(
            convert_histogram(&h).unwrap_err(),
            "histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for \
             custom buckets, got schema 9"
        );
    }

    #[test]
    fn float_and_custom_bucket_histograms() {
        let h = prompb::Histogram {
            count: Some(pb::Count::CountFloat(3.5)),
            sum: f64::NAN,
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![prompb::BucketSpan { offset: 0, length: 2 }],
            positive_counts: vec![1.5, 2.0],
            custom_values: vec![1.0, 5.0],
            ..Default::default()
        };
        let converted = convert_histogram(&h).unwrap();
        assert!(converted.sum.is_nan());
        assert_eq!(converted.custom_values, vec![1.0, 5.0]);
        let mut bad = h.clone();
        bad.custom_values = vec![5.0, 1.0];
        assert_eq!(
            convert_histogram(&bad).unwrap_err(),
            "custom buckets: previous bound is 5.000000 and current is 1.000000: histogram custom bounds must be in \
             strictly increasing order"
        );
        let mut bad = h;
        bad.positive_counts = vec![-1.0, 2.0];
        assert_eq!(
            convert_histogram(&bad).unwrap_err(),
            "positive side: bucket number 1 has observation count of -1: histogram has a bucket whose observation \
             count is negative"
        );
    }
}
