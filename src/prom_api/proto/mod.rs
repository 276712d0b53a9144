//! Hand-written protobuf messages of Prometheus' remote write and read protocols (no protoc
//! on the build machine; the `.proto` files are Apache-2.0 and small). Only the wire format
//! matters: prost and Prometheus' gogo code agree byte for byte on it.

pub mod prompb;
pub mod write_v2;

/// Decodes a protobuf message, answering a failure with the text Prometheus' gogo-generated
/// decoder would give for the same class of damage, since that text is what a remote-write
/// sender logs. Classes prost cannot tell apart keep prost's own wording.
pub fn decode_message<M: prost::Message + Default>(bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|e| go_decode_error_text(&e))
}

fn go_decode_error_text(err: &prost::DecodeError) -> String {
    let text = err.to_string();
    if text.ends_with("buffer underflow") || text.ends_with("delimited length exceeded") {
        // A field or length prefix running past the end: gogo returns io.ErrUnexpectedEOF.
        return "unexpected EOF".to_string();
    }
    if text.ends_with("invalid varint") {
        return "proto: integer overflow".to_string();
    }
    let detail = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    if let Some(pos) = detail.find("invalid wire type value: ") {
        return format!(
            "proto: illegal wireType {}",
            &detail[pos + "invalid wire type value: ".len()..]
        );
    }
    if let Some(pos) = detail.find("invalid wire type: ") {
        // prost lists the (message, field) stack innermost first, before the description.
        let innermost = detail[..pos].split(": ").next().unwrap_or_default();
        let actual = detail[pos + "invalid wire type: ".len()..]
            .split(' ')
            .next()
            .and_then(wire_type_number);
        if let (Some(actual), Some((_, field))) = (actual, innermost.split_once('.')) {
            return format!("proto: wrong wireType = {actual} for field {}", go_field_name(field));
        }
    }
    text
}

fn wire_type_number(name: &str) -> Option<u8> {
    match name {
        "Varint" => Some(0),
        "SixtyFourBit" => Some(1),
        "LengthDelimited" => Some(2),
        "StartGroup" => Some(3),
        "EndGroup" => Some(4),
        "ThirtyTwoBit" => Some(5),
        _ => None,
    }
}

/// gogo names fields in Go style: `labels_refs` → `LabelsRefs`.
fn go_field_name(field: &str) -> String {
    field
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn truncated_message_reads_as_unexpected_eof() {
        let req = prompb::WriteRequest {
            timeseries: vec![prompb::TimeSeries {
                labels: vec![prompb::Label::new("__name__", "up")],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let bytes = req.encode_to_vec();
        let err = decode_message::<prompb::WriteRequest>(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(err, "unexpected EOF");
    }

    #[test]
    fn bad_varint_and_wire_type_use_gogo_texts() {
        let err =
            decode_message::<prompb::WriteRequest>(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .unwrap_err();
        assert_eq!(err, "proto: integer overflow");
        // Field 1 (timeseries) sent as a varint.
        let err = decode_message::<prompb::WriteRequest>(&[0x08, 0x01]).unwrap_err();
        assert_eq!(err, "proto: wrong wireType = 0 for field Timeseries");
        // Nested: Label.name inside TimeSeries.labels, sent as a fixed64.
        let err = decode_message::<prompb::WriteRequest>(&[0x0a, 0x04, 0x0a, 0x02, 0x09, 0x00]).unwrap_err();
        assert_eq!(err, "proto: wrong wireType = 1 for field Name");
        // Field 1 with wire type 7, which does not exist.
        let err = decode_message::<prompb::WriteRequest>(&[0x0f]).unwrap_err();
        assert_eq!(err, "proto: illegal wireType 7");
    }

    #[test]
    fn v1_and_v2_histograms_share_wire_form() {
        let h = prompb::Histogram {
            count: Some(prompb::histogram::Count::CountInt(3)),
            sum: 1.5,
            schema: -53,
            zero_count: Some(prompb::histogram::ZeroCount::ZeroCountFloat(0.0)),
            positive_spans: vec![prompb::BucketSpan { offset: -2, length: 2 }],
            positive_deltas: vec![1, -1],
            custom_values: vec![1.0, 2.0],
            timestamp: 7,
            ..Default::default()
        };
        let decoded = prompb::Histogram::decode(h.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, h);
        assert_eq!(decoded.start_timestamp, 0);
    }
}
