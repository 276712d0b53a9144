//! The block store against a real S3 protocol server (s3s in-process): the same write,
//! select, compaction, retention and reopen path as on the local filesystem.

mod support;

use heimsight::storage::blocks::BlockStore;
use heimsight::storage::model::{STALE_NAN_BITS, Sample, Series, stale_nan};
use heimsight::storage::{LabelMatcher, Labels, MatchOp};
use support::s3::TestS3;

const HOUR: i64 = 3_600_000;

fn series(job: &str, start: i64, values: &[f64]) -> Series {
    Series {
        labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
        samples: values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample {
                t: start + i as i64 * 15_000,
                v,
            })
            .collect(),
        ..Series::default()
    }
}

#[tokio::test]
async fn blocks_roundtrip_through_an_s3_server() {
    let s3 = TestS3::start("heimsight").await;
    let config = s3.object_store_config("heimsight");
    let cache = tempfile::tempdir().unwrap();
    let store = BlockStore::open(&config, &cache.path().join("a")).await.unwrap();

    for block in 0..4 {
        let start = block * 2 * HOUR;
        let data = vec![
            series("api", start, &[1.0, 0.0, stale_nan()]),
            series("db", start, &[block as f64, 1.0]),
        ];
        store
            .write_metrics_block("t1", data, start, start + 2 * HOUR - 1)
            .await
            .unwrap();
    }
    assert_eq!(store.blocks("t1").len(), 4);

    let matchers = [LabelMatcher::new("job", MatchOp::RegexMatch, "api|db").unwrap()];
    let before = store.select("t1", &matchers, 0, 8 * HOUR).await.unwrap();
    assert_eq!(before.len(), 2);
    assert_eq!(before[0].samples.len(), 12);
    assert_eq!(before[0].samples[2].v.to_bits(), STALE_NAN_BITS);
    let only_db = store
        .select("t1", &[LabelMatcher::equal("job", "db")], 2 * HOUR, 4 * HOUR - 1)
        .await
        .unwrap();
    assert_eq!(only_db.len(), 1);
    assert_eq!(
        only_db[0].samples,
        vec![
            Sample { t: 2 * HOUR, v: 1.0 },
            Sample {
                t: 2 * HOUR + 15_000,
                v: 1.0
            }
        ]
    );

    assert_eq!(store.compact("t1").await.unwrap(), 1);
    let after = store.select("t1", &matchers, 0, 8 * HOUR).await.unwrap();
    assert_eq!(format!("{after:?}"), format!("{before:?}"));

    // A second process with its own cache finds the same blocks by listing the bucket.
    let other = BlockStore::open(&config, &cache.path().join("b")).await.unwrap();
    assert_eq!(other.blocks("t1"), store.blocks("t1"));
    let seen = other.select("t1", &matchers, 0, 8 * HOUR).await.unwrap();
    assert_eq!(format!("{seen:?}"), format!("{before:?}"));

    // Retention removes the merged 0–6h block; objects are gone from the bucket.
    assert_eq!(store.apply_retention(6 * HOUR).await.unwrap(), 1);
    other.refresh().await.unwrap();
    assert_eq!(other.blocks("t1").len(), 1);
    let remaining_id = other.blocks("t1")[0].id.clone();
    let remaining = walk(&s3.bucket_dir("heimsight"));
    let metas: Vec<&String> = remaining.iter().filter(|p| p.ends_with("meta.json")).collect();
    assert_eq!(metas.len(), 1, "{remaining:?}");
    assert!(metas[0].contains(&remaining_id));
    assert!(
        remaining
            .iter()
            .filter(|p| p.ends_with(".parquet"))
            .all(|p| p.contains(&remaining_id))
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    files
}
