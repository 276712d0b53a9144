//! Prometheus remote write 1.0 and 2.0 receiver (`/api/v1/write`, `/api/v1/push`).
