//! Reading a remote-read request as Prometheus does (`storage/remote/codec.go`
//! `DecodeReadRequest`, `NegotiateResponseType`, `FromLabelMatchers`): snappy block body
//! with a bounded decoded length, protobuf `ReadRequest`, the first supported response type.

use crate::prom_api::proto::decode_message;
use crate::prom_api::proto::prompb::{self, ReadRequest};
use crate::storage::{LabelMatcher, MatchOp};

/// Which answer the client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    Samples,
    StreamedXorChunks,
}

/// Snappy-decodes and parses the body; every failure is a 400 with the returned text.
pub fn decode_read_request(body: &[u8], max_decoded: usize) -> Result<ReadRequest, String> {
    const CORRUPT: &str = "snappy: corrupt input";
    if body.is_empty() {
        return Err(CORRUPT.to_string());
    }
    let decoded_len = snap::raw::decompress_len(body).map_err(|_| CORRUPT.to_string())?;
    if decoded_len > max_decoded {
        return Err(format!(
            "snappy: decoded length {decoded_len} exceeds limit {max_decoded}"
        ));
    }
    let decoded = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|_| CORRUPT.to_string())?;
    decode_message::<ReadRequest>(&decoded)
}

/// The first accepted type this server speaks; none listed means SAMPLES.
pub fn negotiate_response_type(accepted: &[i32]) -> Result<ResponseType, String> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    for t in accepted {
        match *t {
            prompb::RESPONSE_TYPE_SAMPLES => return Ok(ResponseType::Samples),
            prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS => return Ok(ResponseType::StreamedXorChunks),
            _ => {}
        }
    }
    // Go prints the list with `%v` (enum names, numbers for unknown values) and the
    // supported set as a map.
    let names: Vec<String> = accepted.iter().map(|t| response_type_name(*t)).collect();
    Err(format!(
        "server does not support any of the requested response types: [{}]; supported: map[SAMPLES:{{}} \
         STREAMED_XOR_CHUNKS:{{}}]",
        names.join(" ")
    ))
}

fn response_type_name(t: i32) -> String {
    match t {
        prompb::RESPONSE_TYPE_SAMPLES => "SAMPLES".into(),
        prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS => "STREAMED_XOR_CHUNKS".into(),
        other => other.to_string(),
    }
}

/// Converts a query's matchers. Prometheus answers these errors with 500; they are the
/// client's fault, so here they are 400 (see the module docs of `remote_read`).
pub fn convert_matchers(matchers: &[prompb::LabelMatcher]) -> Result<Vec<LabelMatcher>, String> {
    let mut out = Vec::with_capacity(matchers.len());
    for m in matchers {
        let op = match m.r#type {
            prompb::MATCHER_EQ => MatchOp::Equal,
            prompb::MATCHER_NEQ => MatchOp::NotEqual,
            prompb::MATCHER_RE => MatchOp::RegexMatch,
            prompb::MATCHER_NRE => MatchOp::RegexNoMatch,
            _ => return Err("invalid matcher type".to_string()),
        };
        let matcher = LabelMatcher::new(m.name.clone(), op, m.value.clone()).map_err(|e| e.to_string())?;
        out.push(matcher);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn snappy(bytes: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(bytes).unwrap()
    }

    #[test]
    fn decodes_a_request() {
        let req = ReadRequest {
            queries: vec![prompb::Query {
                start_timestamp_ms: 1,
                end_timestamp_ms: 2,
                matchers: vec![prompb::LabelMatcher {
                    r#type: prompb::MATCHER_EQ,
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                hints: None,
            }],
            accepted_response_types: vec![1, 0],
        };
        let decoded = decode_read_request(&snappy(&req.encode_to_vec()), 1 << 20).unwrap();
        assert_eq!(decoded, req);
    }

    #[test]
    fn bad_bodies_use_prometheus_texts() {
        assert_eq!(decode_read_request(&[], 100).unwrap_err(), "snappy: corrupt input");
        let body = snappy(&[7; 50]);
        assert_eq!(
            decode_read_request(&body[..body.len() - 2], 100).unwrap_err(),
            "snappy: corrupt input"
        );
        assert_eq!(
            decode_read_request(&body, 10).unwrap_err(),
            "snappy: decoded length 50 exceeds limit 10"
        );
        assert_eq!(
            decode_read_request(&snappy(&[0x0a, 0x09]), 100).unwrap_err(),
            "unexpected EOF"
        );
    }

    #[test]
    fn negotiation_takes_the_first_supported_type() {
        assert_eq!(negotiate_response_type(&[]), Ok(ResponseType::Samples));
        assert_eq!(negotiate_response_type(&[1, 0]), Ok(ResponseType::StreamedXorChunks));
        assert_eq!(negotiate_response_type(&[7, 0, 1]), Ok(ResponseType::Samples));
        assert_eq!(
            negotiate_response_type(&[5, 7]).unwrap_err(),
            "server does not support any of the requested response types: [5 7]; supported: map[SAMPLES:{} \
             STREAMED_XOR_CHUNKS:{}]"
        );
    }

    #[test]
    fn matchers_convert_and_bad_ones_fail() {
        let ok = convert_matchers(&[prompb::LabelMatcher {
            r#type: prompb::MATCHER_RE,
            name: "job".into(),
            value: "a|b".into(),
        }])
        .unwrap();
        assert!(ok[0].matches("b") && !ok[0].matches("ab"));
        let bad_type = prompb::LabelMatcher {
            r#type: 9,
            name: "job".into(),
            value: "a".into(),
        };
        assert_eq!(convert_matchers(&[bad_type]).unwrap_err(), "invalid matcher type");
        let bad_regex = prompb::LabelMatcher {
            r#type: prompb::MATCHER_RE,
            name: "job".into(),
            value: "(".into(),
        };
        assert!(
            convert_matchers(&[bad_regex])
                .unwrap_err()
                .starts_with("invalid regular expression")
        );
    }
}
