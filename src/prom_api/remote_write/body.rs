//! The transport half of a remote-write request, as Prometheus' receiver does it
//! (client_golang `exp/api/remote` `SnappyDecodeMiddleware` and `ParseProtoMsg`, which
//! Prometheus' `storage/remote/write_handler.go` plugs into): Content-Encoding, body size,
//! snappy block decoding, then the protobuf message named by Content-Type. Each failure
//! carries the status and text Prometheus answers with.

use axum::http::StatusCode;

pub const APP_PROTOBUF: &str = "application/x-protobuf";
pub const V1_MESSAGE: &str = "prometheus.WriteRequest";
pub const V2_MESSAGE: &str = "io.prometheus.write.v2.Request";

/// Which protobuf message the body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    V1,
    V2,
}

/// A refusal with Prometheus' status and text (written as `http.Error` does).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct HttpFailure {
    pub status: StatusCode,
    pub text: String,
}

impl HttpFailure {
    pub fn new(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }
}

/// Only snappy (block format) or no Content-Encoding at all is accepted; an absent header
/// still means a snappy body, as in Prometheus.
pub fn check_content_encoding(value: Option<&str>) -> Result<(), HttpFailure> {
    match value {
        None | Some("") | Some("snappy") => Ok(()),
        Some(other) => Err(HttpFailure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{other} encoding (compression) is not accepted by this server; only snappy is acceptable"),
        )),
    }
}

/// `application/x-protobuf` → 1.0; `;proto=prometheus.WriteRequest` → 1.0;
/// `;proto=io.prometheus.write.v2.Request` → 2.0; a missing header counts as the first.
///
/// Divergence: Prometheus compares parameter keys untrimmed, so `; proto=…` (with a space,
/// valid per RFC 9110) silently falls back to 1.0 there; here whitespace around parameter
/// keys and values is ignored.
pub fn parse_content_type(value: Option<&str>) -> Result<MessageType, HttpFailure> {
    let content_type = match value {
        None | Some("") => APP_PROTOBUF,
        Some(v) => v.trim(),
    };
    let unsupported = |text: String| HttpFailure::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, text);
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default();
    if media != APP_PROTOBUF {
        return Err(unsupported(format!(
            "expected {APP_PROTOBUF} as the first (media) part, got {content_type} content-type"
        )));
    }
    for param in parts {
        let pair: Vec<&str> = param.split('=').collect();
        if pair.len() != 2 {
            return Err(unsupported(format!(
                "as per https://www.rfc-editor.org/rfc/rfc9110#parameter expected parameters to be key-values, got \
                 {param} in {content_type} content-type"
            )));
        }
        if pair[0].trim() == "proto" {
            return match pair[1].trim() {
                V1_MESSAGE => Ok(MessageType::V1),
                V2_MESSAGE => Ok(MessageType::V2),
                other => Err(unsupported(format!(
                    "got {content_type} content type; unknown type for remote write protobuf message {other}, \
                     supported: {V1_MESSAGE}, {V2_MESSAGE}"
                ))),
            };
        }
    }
    Ok(MessageType::V1)
}

/// Go's snappy error for any damaged block.
pub const SNAPPY_CORRUPT: &str = "snappy: corrupt input";

/// Decodes a snappy block, checking the announced length against `max_decoded` before
/// allocating anything for it.
pub fn snappy_decode(body: &[u8], max_decoded: usize) -> Result<Vec<u8>, HttpFailure> {
    let corrupt = || HttpFailure::new(StatusCode::BAD_REQUEST, SNAPPY_CORRUPT);
    if body.is_empty() {
        // Go's decoder reads the length varint first and finds none; snap would say 0.
        return Err(corrupt());
    }
    let decoded_len = snap::raw::decompress_len(body).map_err(|_| corrupt())?;
    if decoded_len > max_decoded {
        return Err(HttpFailure::new(
            StatusCode::BAD_REQUEST,
            format!("decoded size exceeds the {max_decoded} bytes limit"),
        ));
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|_| corrupt())
}

/// The 413 for a compressed body over the limit.
pub fn body_too_large(limit: usize) -> HttpFailure {
    HttpFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body exceeds the {limit} bytes limit"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_matrix() {
        assert_eq!(parse_content_type(None), Ok(MessageType::V1));
        assert_eq!(parse_content_type(Some("")), Ok(MessageType::V1));
        assert_eq!(parse_content_type(Some("application/x-protobuf")), Ok(MessageType::V1));
        assert_eq!(
            parse_content_type(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
            Ok(MessageType::V1)
        );
        assert_eq!(
            parse_content_type(Some("application/x-protobuf;proto=io.prometheus.write.v2.Request")),
            Ok(MessageType::V2)
        );
        assert_eq!(
            parse_content_type(Some("application/x-protobuf; proto=io.prometheus.write.v2.Request")),
            Ok(MessageType::V2)
        );
        assert_eq!(
            parse_content_type(Some("application/x-protobuf;charset=utf-8")),
            Ok(MessageType::V1)
        );
    }

    #[test]
    fn unsupported_content_types_are_415_with_prometheus_text() {
        let err = parse_content_type(Some("application/json")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            err.text,
            "expected application/x-protobuf as the first (media) part, got application/json content-type"
        );
        let err = parse_content_type(Some("application/x-protobuf;proto=io.prometheus.write.v3.Request")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            err.text,
            "got application/x-protobuf;proto=io.prometheus.write.v3.Request content type; unknown type for remote \
             write protobuf message io.prometheus.write.v3.Request, supported: prometheus.WriteRequest, \
             io.prometheus.write.v2.Request"
        );
        let err = parse_content_type(Some("application/x-protobuf;proto")).unwrap_err();
        assert_eq!(
            err.text,
            "as per https://www.rfc-editor.org/rfc/rfc9110#parameter expected parameters to be key-values, got proto \
             in application/x-protobuf;proto content-type"
        );
    }

    #[test]
    fn content_encoding_must_be_snappy_or_absent() {
        assert!(check_content_encoding(None).is_ok());
        assert!(check_content_encoding(Some("snappy")).is_ok());
        let err = check_content_encoding(Some("gzip")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            err.text,
            "gzip encoding (compression) is not accepted by this server; only snappy is acceptable"
        );
    }

    #[test]
    fn snappy_round_trip_and_failures() {
        let data = b"hello hello hello hello".to_vec();
        let compressed = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(snappy_decode(&compressed, 1024).unwrap(), data);

        let empty = snappy_decode(&[], 1024).unwrap_err();
        assert_eq!(
            (empty.status, empty.text.as_str()),
            (StatusCode::BAD_REQUEST, SNAPPY_CORRUPT)
        );

        let truncated = snappy_decode(&compressed[..compressed.len() - 3], 1024).unwrap_err();
        assert_eq!(
            (truncated.status, truncated.text.as_str()),
            (StatusCode::BAD_REQUEST, SNAPPY_CORRUPT)
        );

        let too_big = snappy_decode(&compressed, 10).unwrap_err();
        assert_eq!(too_big.status, StatusCode::BAD_REQUEST);
        assert_eq!(too_big.text, "decoded size exceeds the 10 bytes limit");
    }

    #[test]
    fn oversized_length_header_is_refused_before_allocation() {
        // A varint announcing ~4 GiB followed by nothing.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let err = snappy_decode(&bomb, 64 * 1024 * 1024).unwrap_err();
        assert_eq!(err.text, "decoded size exceeds the 67108864 bytes limit");
        // A varint that is not even finished.
        let err = snappy_decode(&[0xff, 0xff], 1024).unwrap_err();
        assert_eq!(err.text, SNAPPY_CORRUPT);
    }
}
