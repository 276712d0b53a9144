//! The sample encoding end to end: every float bit-exact through a block, series that span
//! pages and read batches, and sample rows that disagree with the index.

use super::super::format::{SeriesEntry, decode_series_index, encode_block};
use super::super::samples_file::decode_samples;
use super::*;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn awkward_values() -> Vec<f64> {
    vec![
        -0.0,
        0.0,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        0.1 + 0.2,
        1e308,
        -1e308,
        f64::MAX,
        f64::from_bits(STALE_NAN_BITS),
        f64::NAN,
        f64::from_bits(0xfff8_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-300,
        9_007_199_254_740_993.0,
        42.0,
    ]
}

fn assert_bits(actual: &[Sample], expected: &[Sample]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(a.t, e.t);
        assert_eq!(a.v.to_bits(), e.v.to_bits(), "at t={}: {} vs {}", e.t, a.v, e.v);
    }
}

#[tokio::test]
async fn every_float_survives_a_block_bit_exactly() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let awkward: Vec<(i64, f64)> = awkward_values()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (1_000 + i as i64 * 15_000, v))
        .collect();
    // A long float counter with rounding noise, crossing pages (16K rows) and read batches.
    let mut value = 0.0;
    let noisy: Vec<(i64, f64)> = (0..40_000i64)
        .map(|i| {
            value += (i * 7919 % 1000) as f64 / 1000.0;
            (i * 15_000 + i % 7, value)
        })
        .collect();
    let decimals: Vec<(i64, f64)> = (0..3_000i64).map(|i| (i * 10_000, (i % 301) as f64 / 100.0)).collect();
    let written = vec![
        series(&[("__name__", "awkward")], &awkward),
        series(&[("__name__", "noisy_total")], &noisy),
        series(&[("__name__", "temperature")], &decimals),
    ];
    store
        .write_metrics_block("t", written.clone(), 0, 700_000_000)
        .await
        .unwrap();

    let read = store
        .select("t", &[re("__name__", ".+")], i64::MIN, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        names(&read),
        vec![
            "{__name__=\"awkward\"}",
            "{__name__=\"noisy_total\"}",
            "{__name__=\"temperature\"}"
        ]
    );
    for (r, w) in read.iter().zip(&written) {
        assert_bits(&r.samples, &w.samples);
    }
    // A range in the middle of a series: rows are decoded from the series' start, then cut.
    let (from, to) = (noisy[20_000].0, noisy[30_000].0);
    let middle = store
        .select("t", &[eq("__name__", "noisy_total")], from, to)
        .await
        .unwrap();
    assert_bits(&middle[0].samples, &written[1].samples[20_000..=30_000]);
}

fn decode_with(
    series_bytes: Vec<u8>,
    samples_bytes: Vec<u8>,
    tamper: impl Fn(&mut Vec<SeriesEntry>),
) -> Result<Vec<Vec<Sample>>, String> {
    let mut index = decode_series_index(Bytes::from(series_bytes)).unwrap();
    tamper(&mut index.entries);
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(samples_bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let matched: Vec<(u32, &SeriesEntry)> = index.entries.iter().enumerate().map(|(i, e)| (i as u32, e)).collect();
    decode_samples(&batches, &matched, i64::MIN, i64::MAX)
}

#[test]
fn sample_rows_that_disagree_with_the_index_are_errors() {
    let written = vec![
        series(&[("__name__", "a")], &[(1_000, 1.0), (2_000, 2.0)]),
        series(&[("__name__", "b")], &[(1_000, 0.5), (2_000, 0.25), (3_000, 0.125)]),
    ];
    let encoded = encode_block(&written).unwrap();
    let intact = decode_with(encoded.series.clone(), encoded.samples.clone(), |_| {}).unwrap();
    assert_bits(&intact[1], &written[1].samples);

    let too_few = decode_with(encoded.series.clone(), encoded.samples.clone(), |e| {
        e[1].sample_count = 4
    });
    assert!(too_few.unwrap_err().contains("fewer"));
    let too_many = decode_with(encoded.series.clone(), encoded.samples.clone(), |e| {
        e[1].sample_count = 2
    });
    assert!(too_many.unwrap_err().contains("more"));
    let shifted = decode_with(encoded.series.clone(), encoded.samples.clone(), |e| {
        e[0].sample_count = 3;
        e[1].sample_count = 2;
    });
    assert!(shifted.unwrap_err().contains("expected"));
}
