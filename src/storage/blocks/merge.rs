//! Merging what several blocks hold of the same series.

use crate::storage::labels::Labels;
use crate::storage::model::Series;

/// Merges per-block results (each sorted by labels, blocks in min_time order) into one list
/// sorted by labels; samples of one series from several blocks are put in time order and
/// deduplicated by timestamp, the earlier block winning.
///
/// One pass over all blocks at once: a series found in several blocks gets one vector of
/// the right size, where merging block by block would regrow and copy it once per block.
pub(super) fn merge_series(per_block: Vec<Vec<Series>>) -> Vec<Series> {
    if per_block.len() <= 1 {
        return per_block.into_iter().next().unwrap_or_default();
    }
    let mut lists: Vec<std::vec::IntoIter<Series>> = per_block
        .into_iter()
        .map(|mut list| {
            if !list.is_sorted_by(|a, b| a.labels <= b.labels) {
                list.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
            list.into_iter()
        })
        .collect();
    let mut out = Vec::new();
    let mut parts: Vec<Series> = Vec::new();
    loop {
        // The earliest list whose head has the smallest label set; later lists may start with
        // the same series, earlier ones start past it.
        let mut first: Option<(usize, &Labels)> = None;
        for (i, list) in lists.iter().enumerate() {
            if let Some(head) = list.as_slice().first()
                && first.is_none_or(|(_, smallest)| head.labels < *smallest)
            {
                first = Some((i, &head.labels));
            }
        }
        let Some((first, _)) = first else {
            break;
        };
        let Some(series) = lists.get_mut(first).and_then(Iterator::next) else {
            break;
        };
        for list in lists.iter_mut().skip(first + 1) {
            if list.as_slice().first().is_some_and(|head| head.labels == series.labels) {
                parts.extend(list.next());
            }
        }
        if parts.is_empty() {
            out.push(series);
        } else {
            out.push(concat_blocks(series, &mut parts));
        }
    }
    out
}

/// One series from its part in the earliest block and its `later` parts (drained), in block
/// order.
fn concat_blocks(mut merged: Series, later: &mut Vec<Series>) -> Series {
    merged.samples.reserve(later.iter().map(|s| s.samples.len()).sum());
    for part in later.drain(..) {
        merged.samples.extend(part.samples);
        merged.histograms.extend(part.histograms);
        merged.start_timestamps.extend(part.start_timestamps);
    }
    // The earlier block's sample (and start timestamp) wins.
    merged.sort_dedup_by_time();
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::Sample;

    fn series(name: &str, points: &[(i64, f64)]) -> Series {
        Series {
            labels: Labels::from_pairs([("__name__", name)]),
            samples: points.iter().map(|&(t, v)| Sample { t, v }).collect(),
            ..Series::default()
        }
    }

    #[test]
    fn merges_blocks_in_one_pass_earlier_block_winning() {
        let blocks = vec![
            vec![series("a", &[(1, 1.0), (2, 2.0)]), series("c", &[(1, 1.0)])],
            vec![series("b", &[(5, 5.0)]), series("c", &[(2, 2.0)])],
            // Overlaps the first block at t=2: the first block's value stays.
            vec![series("a", &[(2, 20.0), (3, 3.0)]), series("d", &[(9, 9.0)])],
        ];
        let merged = merge_series(blocks);
        let got: Vec<(String, Vec<(i64, f64)>)> = merged
            .iter()
            .map(|s| {
                let name = s.labels.metric_name().unwrap_or_default().to_string();
                (name, s.samples.iter().map(|p| (p.t, p.v)).collect())
            })
            .collect();
        let want: Vec<(String, Vec<(i64, f64)>)> = vec![
            ("a".into(), vec![(1, 1.0), (2, 2.0), (3, 3.0)]),
            ("b".into(), vec![(5, 5.0)]),
            ("c".into(), vec![(1, 1.0), (2, 2.0)]),
            ("d".into(), vec![(9, 9.0)]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn an_unsorted_block_list_is_sorted_first() {
        let blocks = vec![
            vec![series("b", &[(1, 1.0)]), series("a", &[(1, 1.0)])],
            vec![series("a", &[(2, 2.0)])],
        ];
        let merged = merge_series(blocks);
        let names: Vec<&str> = merged.iter().filter_map(|s| s.labels.metric_name()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(merged[0].samples.len(), 2);
    }
}
