//! Prometheus remote read (`/api/v1/read`): SAMPLES and STREAMED_XOR_CHUNKS responses.
