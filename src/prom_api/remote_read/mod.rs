//! Prometheus remote read (`/api/v1/read`): SAMPLES and STREAMED_XOR_CHUNKS responses.
//!
//! CONTRACT (skeleton): the server's router merges [`routes`].

use crate::server::AppState;
use axum::Router;

/// The remote-read route, merged into the root router.
pub fn routes() -> Router<AppState> {
    Router::new()
}
