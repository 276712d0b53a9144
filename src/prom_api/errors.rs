//! Prometheus' error taxonomy: each error has an `errorType` and an HTTP status, and the body
//! is the JSON envelope with `status`, `errorType` and `error` only.

use crate::prom_api::json::error_envelope;
use crate::promql::PromqlError;
use crate::storage::StorageError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Nginx's "client closed request", which Prometheus answers for canceled queries.
const STATUS_CLIENT_CLOSED: u16 = 499;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Canceled,
    Timeout,
    Internal,
    Unavailable,
    NotFound,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Canceled => "canceled",
            ErrorType::Timeout => "timeout",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }

    /// `getDefaultErrorCode` of Prometheus' API: `unavailable` has no mapping and falls to 500.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Canceled => StatusCode::from_u16(STATUS_CLIENT_CLOSED).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Internal | ErrorType::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An error answered with Prometheus' JSON error envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, message)
    }

    /// `invalid parameter "<name>": <reason>`, Prometheus' wording for every parameter error.
    pub fn invalid_param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter \"{name}\": {reason}"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, message)
    }

    /// An engine error of `/query` or `/query_range`: parse errors are parameter errors of
    /// `query`, the rest keep their class.
    pub fn from_query_error(err: PromqlError) -> Self {
        match err {
            PromqlError::BadData(reason) => Self::invalid_param("query", reason),
            PromqlError::Execution(message) => Self::new(ErrorType::Execution, message),
            PromqlError::Timeout(message) => Self::new(ErrorType::Timeout, message),
            err @ PromqlError::Canceled(_) => Self::new(ErrorType::Canceled, err.to_string()),
            PromqlError::Storage(err) => Self::from(err),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::ShuttingDown => Self::new(ErrorType::Unavailable, err.to_string()),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = error_envelope(self.kind.as_str(), &self.message);
        let mut response = (self.kind.status(), body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_map_to_prometheus_statuses() {
        assert_eq!(ErrorType::BadData.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorType::Execution.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(ErrorType::Canceled.status().as_u16(), 499);
        assert_eq!(ErrorType::Timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ErrorType::Internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn engine_errors_keep_their_class() {
        let parse = ApiError::from_query_error(PromqlError::BadData(
            "1:5: parse error: unclosed left parenthesis".into(),
        ));
        assert_eq!(parse.kind, ErrorType::BadData);
        assert_eq!(
            parse.message,
            "invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"
        );
        let exec = ApiError::from_query_error(PromqlError::Execution(
            "vector cannot contain metrics with the same labelset".into(),
        ));
        assert_eq!(exec.kind, ErrorType::Execution);
        let timeout =
            ApiError::from_query_error(PromqlError::Timeout("query timed out in expression evaluation".into()));
        assert_eq!(timeout.kind, ErrorType::Timeout);
        let canceled = ApiError::from_query_error(PromqlError::Canceled("expression evaluation".into()));
        assert_eq!(canceled.message, "query was canceled in expression evaluation");
        let storage = ApiError::from_query_error(PromqlError::Storage(StorageError::Other("disk".into())));
        assert_eq!(storage.kind, ErrorType::Internal);
    }

    #[tokio::test]
    async fn response_body_matches_prometheus() {
        let response = ApiError::new(
            ErrorType::Execution,
            "vector cannot contain metrics with the same labelset",
        )
        .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        assert_eq!(
            &body[..],
            br#"{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}"#
        );
    }
}
