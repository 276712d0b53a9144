//! Where a block's objects live in the bucket: `<tenant>/metrics/<block_id>/<file>`.
//!
//! The tenant is one path part, percent-encoded by `object_store` where it holds characters a
//! bucket key should not, so no tenant can reach another tenant's prefix.

use object_store::path::{Path, PathPart};

/// The signal this module stores; logs and traces get their own `<tenant>/<signal>/` prefix.
pub const METRICS_SIGNAL: &str = "metrics";

pub const META_FILE: &str = "meta.json";
pub const SERIES_FILE: &str = "series.parquet";
pub const SAMPLES_FILE: &str = "samples.parquet";
pub const HISTOGRAMS_FILE: &str = "histograms.parquet";
pub const START_TIMESTAMPS_FILE: &str = "start_timestamps.parquet";

/// `<tenant>/metrics/`: every metrics block of one tenant.
pub fn tenant_prefix(tenant: &str) -> Path {
    Path::from_iter([PathPart::from(tenant), PathPart::from(METRICS_SIGNAL)])
}

/// `<tenant>/metrics/<block_id>/`.
pub fn block_dir(tenant: &str, id: &str) -> Path {
    Path::from_iter([
        PathPart::from(tenant),
        PathPart::from(METRICS_SIGNAL),
        PathPart::from(id),
    ])
}

/// One file of a block.
pub fn block_file(tenant: &str, id: &str, file: &str) -> Path {
    block_dir(tenant, id).join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_tenants_stay_inside_one_path_part() {
        assert_eq!(
            block_file("team-a", "01", META_FILE).as_ref(),
            "team-a/metrics/01/meta.json"
        );
        let escaped = block_dir("../x/y", "01");
        assert_eq!(escaped.parts().count(), 3);
        assert_eq!(escaped.parts().next().unwrap().as_ref(), "..%2Fx%2Fy");
        assert_eq!(block_dir("..", "01").as_ref(), "%2E%2E/metrics/01");
    }
}
