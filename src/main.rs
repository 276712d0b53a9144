//! `heimsight`: with no arguments, serve on the embedded default (data under ./data, blocks
//! on the local filesystem, every HTTP API on port 9090). `heimsight --help` lists the flags.

use heimsight::config::{Config, ConfigError};
use heimsight::server::run::{init_logging, run};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the head allocates and frees many small buffers
/// (chunks, sample runs, request bodies) from two threads at once, where glibc's free-list
/// upkeep (`malloc_consolidate`, `unlink_chunk`) showed up in ingest profiles. Measured
/// side by side (BENCHMARKS.md): mimalloc ingested ~20 % more than glibc; jemalloc did as
/// well on ingest but made the 10k-series range query ~30 % slower and its peak RSS ~30 %
/// higher, where mimalloc matched glibc on both.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        // Clap prints help, version and usage errors itself, with its own exit codes.
        Err(ConfigError::Cli(err)) => err.exit(),
        Err(err) => {
            eprintln!("heimsight: {err}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("heimsight: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
