//! Prometheus remote write 1.0 and 2.0 receiver (`/api/v1/write`, `/api/v1/push`).
//!
//! CONTRACT (skeleton): the server's router merges [`routes`].

use crate::server::AppState;
use axum::Router;

/// The remote-write routes, merged into the root router.
pub fn routes() -> Router<AppState> {
    Router::new()
}
