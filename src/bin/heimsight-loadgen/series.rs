//! Deterministic synthetic series. Every value depends only on (seed, series index, tick),
//! never on how series are spread over connections, so two runs with the same flags send
//! byte-identical data to Heimsight, Prometheus and VictoriaMetrics — the precondition for
//! comparing their bytes per sample and query latency.
//!
//! The mix imitates what exporters produce: integer counters (requests), float counters
//! (CPU seconds, which accumulate binary-fraction noise), integer gauges in the byte range,
//! float gauges with two decimals, and constant series (`up`-like), because each compresses
//! differently and a store tuned to one shape would otherwise look better than it is.

use heimsight::prom_api::proto::prompb::Label;
use prost::Message;

/// SplitMix64: tiny, fast and good enough for reproducible benchmark data (no extra crate).
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0); the modulo bias is irrelevant for load data.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    CounterInt,
    CounterFloat,
    GaugeInt,
    GaugeFloat,
    Constant,
}

#[cfg(test)]
impl Kind {
    pub fn is_counter(self) -> bool {
        matches!(self, Kind::CounterInt | Kind::CounterFloat)
    }
}

/// The shape of the generated data set.
#[derive(Clone, Debug)]
pub struct SeriesSpec {
    pub series: usize,
    /// Labels per series, `__name__` included (at least 3: name, job, instance).
    pub labels: usize,
    /// Distinct metric names; series are spread round-robin over them.
    pub metrics: usize,
    /// Share of metric names that are counters (0–100); the rest are gauges.
    pub counter_percent: u32,
    pub seed: u64,
    /// Value of the `job` label, so a marker series can be kept out of queries.
    pub job: String,
}

/// One metric family of the mix.
#[derive(Clone, Debug)]
pub struct Metric {
    pub name: String,
    pub kind: Kind,
}

/// Metric names and kinds: the first `counter_percent`% are counters (alternating integer
/// and float), the rest gauges (integer, float, and every fourth one constant).
pub fn metric_mix(metrics: usize, counter_percent: u32) -> Vec<Metric> {
    let metrics = metrics.max(1);
    let counters = (metrics * counter_percent.min(100) as usize).div_ceil(100);
    (0..metrics)
        .map(|m| {
            if m < counters {
                let kind = if m % 2 == 0 {
                    Kind::CounterInt
                } else {
                    Kind::CounterFloat
                };
                Metric {
                    name: format!("bench_counter_{m}_total"),
                    kind,
                }
            } else {
                let g = m - counters;
                let kind = match g % 4 {
                    0 => Kind::GaugeInt,
                    1 => Kind::GaugeFloat,
                    2 => Kind::GaugeInt,
                    _ => Kind::Constant,
                };
                Metric {
                    name: format!("bench_gauge_{m}"),
                    kind,
                }
            }
        })
        .collect()
}

/// The label set of series `index`, sorted by name as remote write requires.
pub fn series_labels(spec: &SeriesSpec, mix: &[Metric], index: usize) -> Vec<(String, String)> {
    let metric = &mix[index % mix.len()];
    let target = index / mix.len();
    let mut labels = vec![
        ("__name__".to_string(), metric.name.clone()),
        ("instance".to_string(), format!("host-{target:06}:9100")),
        ("job".to_string(), spec.job.clone()),
    ];
    // Low-cardinality extra labels, as region/zone/env/team are in real fleets.
    let cardinalities = [3u64, 5, 10, 4, 20, 2, 8, 50];
    for extra in 0..spec.labels.saturating_sub(3) {
        let card = cardinalities[extra % cardinalities.len()];
        let value = (target as u64).wrapping_mul(2_654_435_761).wrapping_add(extra as u64) % card;
        labels.push((format!("label_{extra:02}"), format!("value_{value}")));
    }
    labels.sort();
    labels
}

/// The label part of a `prometheus.TimeSeries`, encoded once per series so requests are
/// assembled by copying bytes instead of re-encoding strings.
pub fn encode_labels(labels: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in labels {
        let label = Label::new(name, value);
        // Field 1 of TimeSeries, length-delimited.
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(label.encoded_len() as u64, &mut out);
        label.encode_raw(&mut out);
    }
    out
}

/// The evolving value of one series.
#[derive(Clone, Debug)]
pub struct SeriesState {
    kind: Kind,
    rng: Rng,
    value: f64,
}

impl SeriesState {
    pub fn new(spec: &SeriesSpec, mix: &[Metric], index: usize) -> Self {
        let kind = mix[index % mix.len()].kind;
        let mut rng = Rng::new(spec.seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let value = match kind {
            Kind::CounterInt => rng.below(10_000) as f64,
            Kind::CounterFloat => rng.below(1_000_000) as f64 / 1000.0,
            Kind::GaugeInt => (rng.below(4096) * 1024 * 1024) as f64,
            Kind::GaugeFloat => rng.below(10_000) as f64 / 100.0,
            Kind::Constant => 1.0,
        };
        Self { kind, rng, value }
    }

    /// The value at the next tick.
    pub fn advance(&mut self) -> f64 {
        match self.kind {
            Kind::CounterInt => self.value += self.rng.below(20) as f64,
            Kind::CounterFloat => self.value += self.rng.below(1000) as f64 / 1000.0,
            Kind::GaugeInt => {
                let step = (self.rng.below(64) as f64) * 4096.0;
                if self.rng.below(2) == 0 || self.value < step {
                    self.value += step;
                } else {
                    self.value -= step;
                }
            }
            Kind::GaugeFloat => {
                let step = self.rng.below(200) as i64 - 100;
                // Kept on a two-decimal grid, as a thermometer or a percentage would be.
                self.value = ((self.value * 100.0).round() + step as f64) / 100.0;
            }
            Kind::Constant => {}
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimsight::prom_api::proto::prompb::TimeSeries;

    fn spec(series: usize, labels: usize) -> SeriesSpec {
        SeriesSpec {
            series,
            labels,
            metrics: 10,
            counter_percent: 50,
            seed: 42,
            job: "bench".to_string(),
        }
    }

    #[test]
    fn mix_honours_counter_share_and_kinds() {
        let mix = metric_mix(10, 50);
        let counters = mix.iter().filter(|m| m.kind.is_counter()).count();
        assert_eq!(counters, 5);
        assert!(mix.iter().any(|m| m.kind == Kind::Constant));
        assert!(
            mix.iter()
                .filter(|m| m.kind.is_counter())
                .all(|m| m.name.ends_with("_total"))
        );
        assert_eq!(metric_mix(10, 0).iter().filter(|m| m.kind.is_counter()).count(), 0);
        assert_eq!(metric_mix(10, 100).iter().filter(|m| m.kind.is_counter()).count(), 10);
    }

    #[test]
    fn label_sets_are_unique_sorted_and_sized() {
        let spec = spec(2000, 8);
        let mix = metric_mix(spec.metrics, spec.counter_percent);
        let mut seen = std::collections::HashSet::new();
        for i in 0..spec.series {
            let labels = series_labels(&spec, &mix, i);
            assert_eq!(labels.len(), 8);
            assert!(labels.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no duplicate names");
            assert!(seen.insert(labels));
        }
    }

    #[test]
    fn values_depend_only_on_seed_and_index() {
        let spec = spec(100, 5);
        let mix = metric_mix(spec.metrics, spec.counter_percent);
        let run = |index: usize| {
            let mut state = SeriesState::new(&spec, &mix, index);
            (0..50).map(|_| state.advance()).collect::<Vec<f64>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(17));
        // Counters never decrease; the generator must not fake counter resets.
        for (index, metric) in mix.iter().enumerate() {
            if metric.kind.is_counter() {
                let values = run(index);
                assert!(values.windows(2).all(|w| w[1] >= w[0]));
            }
        }
    }

    #[test]
    fn encoded_labels_decode_as_a_timeseries() {
        let labels = vec![
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "x".to_string()),
        ];
        let bytes = encode_labels(&labels);
        let decoded = TimeSeries::decode(bytes.as_slice()).expect("valid protobuf");
        assert_eq!(
            decoded.labels,
            vec![Label::new("__name__", "up"), Label::new("job", "x")]
        );
    }
}
