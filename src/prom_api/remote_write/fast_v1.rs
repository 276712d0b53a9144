//! Remote write 1.0's common request — series with labels and float samples, nothing else —
//! read straight from the decompressed bytes, labels borrowed instead of copied into
//! per-label `Vec`s as prost's `WriteRequest` would (two allocations per label, several
//! per series, freed again right after).
//!
//! This reader is an optimisation only, never the authority: it gives up (`None`) on
//! anything outside the common shape — exemplars, histograms, metadata, groups, a field of
//! an unexpected wire type, a damaged length or varint — and the caller then decodes with
//! prost as before, so error texts and rare message shapes keep one implementation. On what
//! it accepts it follows protobuf's rules as prost does: unknown fields are skipped, a
//! repeated scalar field keeps its last value, repeated messages accumulate.

use crate::prom_api::remote_write::convert::{ConvertContext, ErrorLog, TOO_FAR_IN_FUTURE};
use crate::prom_api::remote_write::series_labels::{RawLabel, validate_series_labels};
use crate::storage::METRIC_NAME;
use crate::storage::model::{FloatBatch, Sample};

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A request of the common shape: every series' labels (as received) and samples, flat.
#[derive(Debug, Default, PartialEq)]
pub struct RawRequest<'a> {
    labels: Vec<RawLabel<'a>>,
    samples: Vec<Sample>,
    /// Per series, the end of its run in `labels` and in `samples`.
    ends: Vec<(usize, usize)>,
}

/// What a request of the common shape turned into.
#[derive(Debug, Default, PartialEq)]
pub struct FastConverted<'a> {
    pub batch: FloatBatch<'a>,
    pub errors: ErrorLog,
}

/// Decodes and validates a request of the common shape; `None` means "not this shape, use
/// the general path" (which then also produces any decode error).
pub fn convert<'a>(body: &'a [u8], ctx: &ConvertContext<'_>) -> Option<FastConverted<'a>> {
    let mut raw = parse(body)?;
    let max_time = ctx.now_ms.saturating_add(ctx.limits.max_future_ms);
    let mut out = FastConverted::default();
    let mut kept: Vec<Sample> = Vec::new();
    let mut starts = (0usize, 0usize);
    for i in 0..raw.ends.len() {
        let (label_end, sample_end) = raw.ends[i];
        let (label_start, sample_start) = starts;
        starts = (label_end, sample_end);
        let run = raw.labels.get_mut(label_start..label_end)?;
        // Senders sort (the spec asks them to): one comparison per pair both confirms the
        // order and rules out repeated names. Otherwise a stable sort, as the general path
        // does, so error texts list duplicates in received order.
        let distinct = run.windows(2).all(|w| w[0].0 < w[1].0);
        if !distinct {
            run.sort_by(|a, b| a.0.cmp(b.0));
        }
        let run: &[RawLabel<'a>] = raw.labels.get(label_start..label_end)?;
        // UTF-8: label text is nearly always ASCII, which an inlined byte scan confirms far
        // cheaper than a `from_utf8` call per name and value.
        let utf8 = run.iter().all(|(name, value)| name.is_ascii() && value.is_ascii())
            || run
                .iter()
                .all(|(name, value)| std::str::from_utf8(name).is_ok() && std::str::from_utf8(value).is_ok());
        if !utf8 || !labels_pass(run, distinct, ctx) {
            match validate_series_labels(run, ctx.limits) {
                Err(e) => out.errors.add(|| e.0),
                // The two checks disagree: leave the request to the general path.
                Ok(_) => return None,
            }
            continue;
        }
        // Empty values mean "no such label"; the stored set leaves them out.
        let pairs = run.iter().filter(|(_, value)| !value.is_empty()).copied();
        let samples = raw.samples.get(sample_start..sample_end)?;
        if samples.iter().all(|s| s.t <= max_time) {
            out.batch.push_series(pairs, samples);
            continue;
        }
        kept.clear();
        for s in samples {
            if s.t > max_time {
                out.errors.add(|| TOO_FAR_IN_FUTURE.to_string());
                continue;
            }
            kept.push(*s);
        }
        out.batch.push_series(pairs, &kept);
    }
    Some(out)
}

/// The general path's label checks (`validate_series_labels`) but UTF-8 (checked by the
/// caller) as a yes/no on a sorted run, without building anything; a "no" goes to the
/// general path for its error text. `distinct`: the run is known to have no repeated name.
fn labels_pass(sorted: &[RawLabel<'_>], distinct: bool, ctx: &ConvertContext<'_>) -> bool {
    let limits = ctx.limits;
    let mut has_name = false;
    let mut non_empty = 0usize;
    let mut previous: Option<&[u8]> = None;
    for (name, value) in sorted {
        if name.is_empty() || (!distinct && previous == Some(*name)) {
            return false;
        }
        previous = Some(name);
        // Names are distinct once checked, so only the first `__name__` needs looking for.
        if !has_name && *name == METRIC_NAME.as_bytes() {
            if value.is_empty() {
                return false;
            }
            has_name = true;
        }
        if name.len() > limits.max_label_name_length || value.len() > limits.max_label_value_length {
            return false;
        }
        if !value.is_empty() {
            non_empty += 1;
        }
    }
    has_name && non_empty <= limits.max_labels_per_series
}

/// Reads a `prometheus.WriteRequest` of the common shape.
fn parse(body: &[u8]) -> Option<RawRequest<'_>> {
    let mut request = RawRequest::default();
    let mut r = Reader { data: body };
    while !r.data.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, LEN) => {
                let series = r.bytes()?;
                parse_series(series, &mut request)?;
                request.ends.push((request.labels.len(), request.samples.len()));
            }
            // Metadata (3) and anything unexpected for a known field: the general path.
            (1 | 3, _) => return None,
            _ => r.skip(wire)?,
        }
    }
    Some(request)
}

fn parse_series<'a>(data: &'a [u8], request: &mut RawRequest<'a>) -> Option<()> {
    let mut r = Reader { data };
    while !r.data.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, LEN) => request.labels.push(parse_label(r.bytes()?)?),
            (2, LEN) => request.samples.push(parse_sample(r.bytes()?)?),
            // Exemplars (3), histograms (4), or a wrong wire type: the general path.
            (1..=4, _) => return None,
            _ => r.skip(wire)?,
        }
    }
    Some(())
}

fn parse_label(data: &[u8]) -> Option<RawLabel<'_>> {
    let mut r = Reader { data };
    let (mut name, mut value): RawLabel<'_> = (&[], &[]);
    while !r.data.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, LEN) => name = r.bytes()?,
            (2, LEN) => value = r.bytes()?,
            (1 | 2, _) => return None,
            _ => r.skip(wire)?,
        }
    }
    Some((name, value))
}

fn parse_sample(data: &[u8]) -> Option<Sample> {
    let mut r = Reader { data };
    let mut sample = Sample { t: 0, v: 0.0 };
    while !r.data.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, FIXED64) => sample.v = f64::from_le_bytes(r.fixed64()?),
            // int64: the varint's 64 bits, two's complement.
            (2, VARINT) => sample.t = r.varint()? as i64,
            (1 | 2, _) => return None,
            _ => r.skip(wire)?,
        }
    }
    Some(sample)
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A varint of at most 10 bytes whose value fits 64 bits (what prost accepts).
    fn varint(&mut self) -> Option<u64> {
        // Tags, lengths of labels and small numbers: one byte, nearly every call.
        if let Some((&byte, rest)) = self.data.split_first()
            && byte < 0x80
        {
            self.data = rest;
            return Some(u64::from(byte));
        }
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.data.split_first()?;
            self.data = rest;
            if i == 9 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    /// Field number and wire type; field 0 and the group/unknown wire types give up.
    fn key(&mut self) -> Option<(u64, u8)> {
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return None;
        }
        let field = key >> 3;
        let wire = (key & 7) as u8;
        if field == 0 || !matches!(wire, VARINT | FIXED64 | LEN | FIXED32) {
            return None;
        }
        Some((field, wire))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.data.len() {
            return None;
        }
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        Some(head)
    }

    fn fixed64(&mut self) -> Option<[u8; 8]> {
        let (head, rest) = self.data.split_first_chunk::<8>()?;
        self.data = rest;
        Some(*head)
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            VARINT => self.varint().map(|_| ()),
            FIXED64 => self.fixed64().map(|_| ()),
            LEN => self.bytes().map(|_| ()),
            FIXED32 => {
                let (_, rest) = self.data.split_first_chunk::<4>()?;
                self.data = rest;
                Some(())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom_api::proto::decode_message;
    use crate::prom_api::proto::prompb::{self, Label, TimeSeries, WriteRequest};
    use crate::prom_api::remote_write::convert::convert_v1;
    use crate::server::Limits;
    use crate::storage::AppendBatch;
    use prost::Message;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| prompb::Sample { value, timestamp })
                .collect(),
            ..TimeSeries::default()
        }
    }

    fn request(timeseries: Vec<TimeSeries>) -> Vec<u8> {
        WriteRequest {
            timeseries,
            ..WriteRequest::default()
        }
        .encode_to_vec()
    }

    /// The fast reader must agree with prost + `convert_v1` on everything it accepts.
    fn assert_same_as_general_path(body: &[u8], limits: &Limits) {
        let ctx = ConvertContext { now_ms: 10_000, limits };
        let fast = convert(body, &ctx).expect("common shape");
        let general = convert_v1(&decode_message::<WriteRequest>(body).expect("valid"), &ctx);
        // Compared bit for bit: NaN (the stale marker) is not equal to itself.
        let bits = |batch: AppendBatch| -> Vec<(String, Vec<(i64, u64)>)> {
            batch
                .series
                .into_iter()
                .map(|s| {
                    (
                        s.labels.to_string(),
                        s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
                    )
                })
                .collect()
        };
        assert!(general.batch.metadata.is_empty());
        assert_eq!(bits(fast.batch.to_append_batch()), bits(general.batch));
        assert_eq!(fast.errors, general.errors);
    }

    #[test]
    fn agrees_with_the_general_path_on_valid_and_invalid_series() {
        let body = request(vec![
            series(
                &[("job", "a"), ("__name__", "up"), ("env", "")],
                &[(1000, 1.0), (2000, 2.5)],
            ),
            series(&[("job", "a")], &[(1000, 1.0)]),
            series(&[("__name__", "up"), ("a", "1"), ("a", "")], &[(1000, 1.0)]),
            series(&[("__name__", "up"), ("", "x")], &[(1000, 1.0)]),
            series(&[("__name__", "future")], &[(1000, 1.0), (i64::MAX, 2.0)]),
            series(&[("__name__", "empty")], &[]),
            series(&[("__name__", "stale")], &[(3000, crate::storage::model::stale_nan())]),
            series(&[("__name__", "neg")], &[(-5, -1.0)]),
            series(&[("__name__", "utf8"), ("city", "Zürich"), ("é", "x")], &[(1000, 1.0)]),
        ]);
        assert_same_as_general_path(&body, &Limits::default());
        let tight = Limits {
            max_labels_per_series: 1,
            max_label_value_length: 2,
            ..Limits::default()
        };
        assert_same_as_general_path(&body, &tight);
    }

    #[test]
    fn invalid_utf8_is_refused_like_the_general_path() {
        let mut bad = series(&[("__name__", "up")], &[(1000, 1.0)]);
        bad.labels.push(Label {
            name: b"a".to_vec(),
            value: vec![0xff],
        });
        assert_same_as_general_path(&request(vec![bad]), &Limits::default());
    }

    #[test]
    fn unknown_fields_are_skipped_and_last_scalar_wins() {
        let mut body = request(vec![series(&[("__name__", "up")], &[(1000, 1.0)])]);
        // An unknown varint field (15) and fixed32 field (14) at the top level.
        body.extend_from_slice(&[15 << 3, 0x96, 0x01, (14 << 3) | 5, 1, 2, 3, 4]);
        assert_same_as_general_path(&body, &Limits::default());
        // A sample whose timestamp field appears twice: the last one counts.
        let sample = [0x10, 0x01, 0x10, 0xe8, 0x07, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
        let label = [
            0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 0x02, b'u', b'p',
        ];
        let mut ts = vec![0x0a, label.len() as u8];
        ts.extend_from_slice(&label);
        ts.extend_from_slice(&[0x12, sample.len() as u8]);
        ts.extend_from_slice(&sample);
        let mut body = vec![0x0a, ts.len() as u8];
        body.extend_from_slice(&ts);
        assert_same_as_general_path(&body, &Limits::default());
        let ctx = ConvertContext {
            now_ms: 10_000,
            limits: &Limits::default(),
        };
        let fast = convert(&body, &ctx).expect("common shape");
        let (_, samples) = fast.batch.iter().next().expect("one series");
        assert_eq!(samples, &[Sample { t: 1000, v: 1.0 }]);
    }

    #[test]
    fn other_shapes_are_left_to_the_general_path() {
        let ctx = ConvertContext {
            now_ms: 10_000,
            limits: &Limits::default(),
        };
        let mut with_exemplar = series(&[("__name__", "up")], &[(1000, 1.0)]);
        with_exemplar.exemplars.push(prompb::Exemplar {
            labels: vec![Label::new("trace_id", "1")],
            value: 1.0,
            timestamp: 1000,
        });
        assert!(convert(&request(vec![with_exemplar]), &ctx).is_none());
        let with_metadata = WriteRequest {
            metadata: vec![prompb::MetricMetadata {
                r#type: 1,
                metric_family_name: b"up".to_vec(),
                help: Vec::new(),
                unit: Vec::new(),
            }],
            ..WriteRequest::default()
        }
        .encode_to_vec();
        assert!(convert(&with_metadata, &ctx).is_none());
        let body = request(vec![series(&[("__name__", "up")], &[(1000, 1.0)])]);
        assert!(convert(&body[..body.len() - 1], &ctx).is_none());
        // A varint running past 64 bits, and a group wire type.
        assert!(
            convert(
                &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                &ctx
            )
            .is_none()
        );
        assert!(convert(&[0x0b], &ctx).is_none());
        assert!(convert(&[0x00], &ctx).is_none());
    }

    #[test]
    fn an_empty_body_is_an_empty_request() {
        let ctx = ConvertContext {
            now_ms: 0,
            limits: &Limits::default(),
        };
        let fast = convert(&[], &ctx).expect("empty is valid protobuf");
        assert!(fast.batch.is_empty() && fast.errors.is_empty());
    }
}
