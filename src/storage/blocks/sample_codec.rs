//! How one series' float samples become the integer columns of `samples.parquet`, and back,
//! bit-exactly.
//!
//! Exporters mostly send integers (counters of requests, bytes) and short decimals
//! (temperatures, percentages), which as raw f64 bits look like noise to a compressor. So each
//! series gets a [`ValueScale`] (stored in `series.parquet`): a value `v` becomes the integer
//! `n = round(v × 10^decimals) / quantum` (VictoriaMetrics' decimal trick, plus a common
//! factor so byte-sized gauge steps of 4096 cost one byte). Unlike VictoriaMetrics we keep
//! every bit: the approximation `n × quantum / 10^decimals` is corrected by `ulps`, the
//! difference of the IEEE bit patterns of `v` and the approximation, which is 0 for exact
//! decimals and a few units for float counters that accumulated rounding noise. NaN, ±Inf
//! and the stale marker keep the previous `n` and go entirely into `ulps`. Quantum 0 means
//! "no scaling" (for values that are no decimals at all): `ulps` then holds each value's bits
//! XORed with the previous value's.
//!
//! Columns hold per-series differences, zigzagged so small negatives stay small: `t` as
//! delta-of-delta from the series' `min_t` (0 for regular scrapes), `n` and `ulps` as deltas.
//! Byte-stream-split then puts the low bytes of a page together and zstd entropy-codes them,
//! while the high bytes, almost always zero, vanish. Differences restart at each series, so a
//! series' rows are always read whole (queries select whole series anyway).

use crate::storage::model::Sample;

/// Largest number of decimals tried; 10^15 is still an exact f64.
pub const MAX_DECIMALS: u8 = 15;

/// Powers of ten, exact in f64 up to 10^22.
const POW10: [f64; MAX_DECIMALS as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// How a series' values map to integers: `v ≈ n × quantum / 10^decimals`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueScale {
    pub decimals: u8,
    /// Common factor of the scaled values; 0 means values are stored as raw bits.
    pub quantum: i64,
}

impl ValueScale {
    pub const RAW: Self = Self {
        decimals: 0,
        quantum: 0,
    };
    const UNSCALED: Self = Self {
        decimals: 0,
        quantum: 1,
    };

    /// Checks a scale read from a file: a corrupt one is an error, never a panic.
    pub fn validated(decimals: u8, quantum: i64) -> Result<Self, String> {
        if decimals > MAX_DECIMALS || quantum < 0 {
            return Err(format!("invalid value scale: {decimals} decimals, quantum {quantum}"));
        }
        Ok(Self { decimals, quantum })
    }

    fn divisor(self) -> f64 {
        POW10.get(usize::from(self.decimals)).copied().unwrap_or(1.0)
    }

    /// `n × quantum / 10^decimals`: one integer multiply, one correctly rounded conversion and
    /// one correctly rounded division, so encoder and decoder agree on every platform.
    fn approximate(self, n: i64) -> f64 {
        n.wrapping_mul(self.quantum) as f64 / self.divisor()
    }

    /// `v × 10^decimals` rounded (saturating; NaN gives 0, but non-finite values never get here).
    fn scaled(self, v: f64) -> i64 {
        (v * self.divisor()).round() as i64
    }
}

/// The encoded columns of a block (all series laid end to end).
#[derive(Debug, Default)]
pub struct SampleColumns {
    pub t: Vec<i64>,
    pub n: Vec<i64>,
    pub ulps: Vec<i64>,
}

fn zigzag(x: i64) -> i64 {
    (x << 1) ^ (x >> 63)
}

fn unzigzag(x: i64) -> i64 {
    ((x as u64) >> 1) as i64 ^ -(x & 1)
}

/// Significant bits of a column value: roughly what an entropy coder will pay for it.
fn cost(column_value: i64) -> u32 {
    64 - (column_value as u64).leading_zeros()
}

fn ulps_between(v: f64, approximation: f64) -> i64 {
    (v.to_bits() as i64).wrapping_sub(approximation.to_bits() as i64)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Samples a scale is chosen on: enough to tell decimals from noise, and it bounds the work
/// for long series (a 24h block holds 5760 samples of a 15s scrape).
const CHOICE_SAMPLES: usize = 256;

/// The scale whose columns should compress best: each number of decimals up to the first
/// exact one, with the common factor of the scaled values, against raw bits; the estimate
/// is the significant bits of every column value, over the first samples. Scaling must save
/// a tenth to win: where the estimates are close the values are noise, and one column of
/// noise compresses better than noise spread over two (measured: 6.8 vs 7.0 B/sample for
/// uniformly random gauges). The common factor is then taken over every sample, so a late
/// odd value costs compression, never correctness (the ulps always make up the rest).
pub fn choose_scale(samples: &[Sample]) -> ValueScale {
    let head = samples.get(..CHOICE_SAMPLES).unwrap_or(samples);
    let raw = raw_cost(head);
    let mut best = (ValueScale::RAW, raw - raw / 10);
    for decimals in 0..=MAX_DECIMALS {
        let scale = with_common_factor(head, decimals);
        let (estimate, exact) = scaled_cost(head, scale, best.1);
        if estimate < best.1 {
            best = (scale, estimate);
        }
        if exact {
            break;
        }
    }
    if best.0 == ValueScale::RAW {
        if samples.iter().all(|s| !s.v.is_finite()) {
            return ValueScale::UNSCALED;
        }
        return ValueScale::RAW;
    }
    if head.len() == samples.len() {
        return best.0;
    }
    with_common_factor(samples, best.0.decimals)
}

/// The scale with `decimals` and the largest factor common to every scaled finite value.
fn with_common_factor(samples: &[Sample], decimals: u8) -> ValueScale {
    let mut scale = ValueScale { decimals, quantum: 1 };
    let common = samples
        .iter()
        .filter(|s| s.v.is_finite())
        .fold(0u64, |g, s| gcd(g, scale.scaled(s.v).unsigned_abs()));
    scale.quantum = i64::try_from(common).unwrap_or(1).max(1);
    scale
}

fn raw_cost(samples: &[Sample]) -> u64 {
    scaled_cost(samples, ValueScale::RAW, u64::MAX).0
}

/// The estimate for one scale, given up once above `limit`, and whether every finite value
/// was exact (then more decimals cannot help).
fn scaled_cost(samples: &[Sample], scale: ValueScale, limit: u64) -> (u64, bool) {
    let mut encoder = ValueEncoder::new(scale);
    let mut total = 0u64;
    let mut exact = true;
    for sample in samples {
        let (n, ulps, finite) = encoder.next(sample.v);
        exact &= !finite || encoder.ulps == 0;
        total += u64::from(cost(n)) + u64::from(cost(ulps));
        if total >= limit {
            return (total, false);
        }
    }
    (total, exact)
}

/// Turns one series' values into the values of the `n` and `ulps` columns: zigzagged
/// differences, or for raw bits the XOR with the previous value's bits (sign and exponent
/// rarely change, so the high bytes are zero; a difference would carry into them).
struct ValueEncoder {
    scale: ValueScale,
    n: i64,
    /// The last ulps correction, or for raw bits the last value's bits.
    ulps: i64,
}

impl ValueEncoder {
    fn new(scale: ValueScale) -> Self {
        Self { scale, n: 0, ulps: 0 }
    }

    fn next(&mut self, v: f64) -> (i64, i64, bool) {
        let finite = v.is_finite();
        if self.scale.quantum == 0 {
            let bits = v.to_bits() as i64;
            let xor = bits ^ self.ulps;
            self.ulps = bits;
            return (0, xor, finite);
        }
        let n = if finite {
            self.scale.scaled(v) / self.scale.quantum
        } else {
            self.n
        };
        let ulps = ulps_between(v, self.scale.approximate(n));
        let columns = (
            zigzag(n.wrapping_sub(self.n)),
            zigzag(ulps.wrapping_sub(self.ulps)),
            finite,
        );
        self.n = n;
        self.ulps = ulps;
        columns
    }
}

/// Appends one series' samples (sorted by time) to the columns.
pub fn encode_series(samples: &[Sample], min_t: i64, scale: ValueScale, out: &mut SampleColumns) {
    let mut values = ValueEncoder::new(scale);
    let (mut previous_t, mut previous_dt) = (min_t, 0i64);
    for sample in samples {
        let dt = sample.t.wrapping_sub(previous_t);
        out.t.push(zigzag(dt.wrapping_sub(previous_dt)));
        (previous_t, previous_dt) = (sample.t, dt);
        let (n, ulps, _) = values.next(sample.v);
        out.n.push(n);
        out.ulps.push(ulps);
    }
}

/// Rebuilds one series' samples row by row; the inverse of [`encode_series`].
pub struct SeriesDecoder {
    scale: ValueScale,
    t: i64,
    dt: i64,
    n: i64,
    ulps: i64,
}

impl SeriesDecoder {
    pub fn new(min_t: i64, scale: ValueScale) -> Self {
        Self {
            scale,
            t: min_t,
            dt: 0,
            n: 0,
            ulps: 0,
        }
    }

    pub fn next(&mut self, t: i64, n: i64, ulps: i64) -> Sample {
        self.dt = self.dt.wrapping_add(unzigzag(t));
        self.t = self.t.wrapping_add(self.dt);
        if self.scale.quantum == 0 {
            self.ulps ^= ulps;
            return Sample {
                t: self.t,
                v: f64::from_bits(self.ulps as u64),
            };
        }
        self.n = self.n.wrapping_add(unzigzag(n));
        self.ulps = self.ulps.wrapping_add(unzigzag(ulps));
        let approximation = self.scale.approximate(self.n).to_bits() as i64;
        Sample {
            t: self.t,
            v: f64::from_bits(approximation.wrapping_add(self.ulps) as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::STALE_NAN_BITS;

    fn round_trip(values: &[f64]) -> ValueScale {
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample {
                t: 1_000 + i as i64 * 15_000 + (i as i64 % 3),
                v,
            })
            .collect();
        let scale = choose_scale(&samples);
        let mut columns = SampleColumns::default();
        encode_series(&samples, 1_000, scale, &mut columns);
        let mut decoder = SeriesDecoder::new(1_000, scale);
        for (i, sample) in samples.iter().enumerate() {
            let decoded = decoder.next(columns.t[i], columns.n[i], columns.ulps[i]);
            assert_eq!(decoded.t, sample.t);
            assert_eq!(
                decoded.v.to_bits(),
                sample.v.to_bits(),
                "value {} at {i} with {scale:?}",
                sample.v
            );
        }
        scale
    }

    #[test]
    fn awkward_values_survive_bit_exactly() {
        let awkward = [
            -0.0,
            0.0,
            f64::from_bits(1),
            f64::MIN_POSITIVE / 3.0,
            -f64::from_bits(0x000f_ffff_ffff_ffff),
            0.1 + 0.2,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN,
            f64::from_bits(STALE_NAN_BITS),
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            9_007_199_254_740_993.0,
            9.3e18,
            -9.3e18,
            1e-300,
            0.3,
            123.456,
        ];
        round_trip(&awkward);
        for &v in &awkward {
            round_trip(&[v]);
            round_trip(&[v, 1.5, v, v]);
            round_trip(&[0.25, v]);
        }
    }

    #[test]
    fn integers_and_decimals_scale_exactly() {
        let counter: Vec<f64> = (0..100).map(|i| (1_000 + i * 7) as f64).collect();
        assert_eq!(round_trip(&counter), ValueScale::UNSCALED);
        let bytes: Vec<f64> = (0..100).map(|i| ((1 << 20) + (i % 9) * 4096) as f64).collect();
        assert_eq!(round_trip(&bytes).quantum, 4096);
        let temperatures: Vec<f64> = (0..100).map(|i| (2_000 + (i * 37) % 300) as f64 / 100.0).collect();
        assert_eq!(round_trip(&temperatures).decimals, 2);
    }

    #[test]
    fn the_common_factor_covers_samples_after_the_ones_the_scale_is_chosen_on() {
        let mut values: Vec<f64> = (0..1000).map(|i| ((i % 50) * 4096) as f64).collect();
        values.push(4097.0);
        values.extend((0..100).map(|i| (i * 4096) as f64));
        assert_eq!(round_trip(&values), ValueScale::UNSCALED);
    }

    #[test]
    fn float_counters_keep_their_rounding_noise() {
        let mut v = 123.456;
        let mut values = Vec::new();
        for i in 0..500u64 {
            v += (i * 7919 % 1000) as f64 / 1000.0;
            values.push(v);
        }
        let scale = round_trip(&values);
        assert_eq!(scale.decimals, 3, "noise stays in ulps, the decimals carry the value");
    }

    #[test]
    fn values_that_are_no_decimals_fall_back_to_raw_bits() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let values: Vec<f64> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        assert_eq!(round_trip(&values), ValueScale::RAW);
        round_trip(&[f64::NAN, f64::INFINITY]);
    }

    #[test]
    fn corrupt_scales_are_rejected() {
        assert!(ValueScale::validated(16, 1).is_err());
        assert!(ValueScale::validated(2, -5).is_err());
        assert_eq!(ValueScale::validated(3, 0).unwrap().quantum, 0);
    }
}
