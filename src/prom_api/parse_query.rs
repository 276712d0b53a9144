//! `/api/v1/parse_query`: the PromQL syntax tree as JSON for the Prometheus UI's tree view,
//! in the shape of Prometheus' `translateAST` (keys sorted, as Go's maps encode).

use crate::prom_api::errors::ApiError;
use crate::prom_api::json::{format_float, success_envelope};
use crate::prom_api::params::{Params, parse_promql};
use crate::prom_api::router::json_response;
use axum::response::Response;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector};
use serde_json::{Map, Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// Builds an object with keys inserted in sorted order, so the output is Go's whatever
/// serde_json's map flavour.
fn object(mut entries: Vec<(&str, Value)>) -> Value {
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut map = Map::new();
    for (key, value) in entries {
        map.insert(key.to_string(), value);
    }
    Value::Object(map)
}

fn millis(duration: &Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
    }
}

/// (`timestamp`, `startOrEnd`) of an `@` modifier.
fn at_fields(at: &Option<AtModifier>) -> (Value, Value) {
    match at {
        None => (Value::Null, Value::Null),
        Some(AtModifier::Start) => (Value::Null, json!("start")),
        Some(AtModifier::End) => (Value::Null, json!("end")),
        Some(AtModifier::At(time)) => {
            let ms = match time.duration_since(UNIX_EPOCH) {
                Ok(after) => millis(&after),
                Err(before) => -millis(&before.duration()),
            };
            (json!(ms), Value::Null)
        }
    }
}

fn match_type(op: &MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Re(_) => "=~",
        MatchOp::NotRe(_) => "!~",
    }
}

fn matchers(selector: &VectorSelector) -> Value {
    let mut list: Vec<&Matcher> = Vec::new();
    let has_name_matcher = selector.matchers.matchers.iter().any(|m| m.name == "__name__");
    let name_matcher = selector
        .name
        .as_ref()
        .filter(|_| !has_name_matcher)
        .map(|name| Matcher::new(MatchOp::Equal, "__name__", name));
    list.extend(selector.matchers.matchers.iter());
    list.extend(selector.matchers.or_matchers.iter().flatten());
    let mut out: Vec<Value> = list
        .iter()
        .map(|m| {
            object(vec![
                ("name", json!(m.name)),
                ("type", json!(match_type(&m.op))),
                ("value", json!(m.value)),
            ])
        })
        .collect();
    if let Some(m) = name_matcher {
        out.push(object(vec![
            ("name", json!(m.name)),
            ("type", json!("=")),
            ("value", json!(m.value)),
        ]));
    }
    Value::Array(out)
}

fn selector_fields(selector: &VectorSelector) -> Vec<(&'static str, Value)> {
    let (timestamp, start_or_end) = at_fields(&selector.at);
    vec![
        ("name", json!(selector.name.clone().unwrap_or_default())),
        ("offset", json!(offset_ms(&selector.offset))),
        ("offsetExpr", Value::Null),
        ("matchers", matchers(selector)),
        ("timestamp", timestamp),
        ("startOrEnd", start_or_end),
        ("anchored", json!(false)),
        ("smoothed", json!(false)),
    ]
}

fn value_type_name(value_type: ValueType) -> String {
    value_type.to_string()
}

fn label_list(modifier: Option<&LabelModifier>) -> Value {
    match modifier {
        Some(m) => json!(m.labels().labels),
        None => json!([]),
    }
}

/// Prometheus' `translateAST`.
pub fn translate(expr: &Expr) -> Value {
    match expr {
        Expr::Aggregate(aggregate) => object(vec![
            ("type", json!("aggregation")),
            ("op", json!(aggregate.op.to_string())),
            ("expr", translate(&aggregate.expr)),
            ("param", aggregate.param.as_deref().map_or(Value::Null, translate)),
            ("grouping", label_list(aggregate.modifier.as_ref())),
            (
                "without",
                json!(aggregate.modifier.as_ref().is_some_and(|m| !m.is_include())),
            ),
        ]),
        Expr::Binary(binary) => {
            let both_vectors =
                binary.lhs.value_type() == ValueType::Vector && binary.rhs.value_type() == ValueType::Vector;
            let matching = match &binary.modifier {
                Some(modifier) if both_vectors => {
                    let card = match &modifier.card {
                        VectorMatchCardinality::OneToOne => "one-to-one",
                        VectorMatchCardinality::ManyToOne(_) => "many-to-one",
                        VectorMatchCardinality::OneToMany(_) => "one-to-many",
                        VectorMatchCardinality::ManyToMany => "many-to-many",
                    };
                    let include = modifier.card.labels().map_or(json!([]), |l| json!(l.labels));
                    object(vec![
                        ("card", json!(card)),
                        ("labels", label_list(modifier.matching.as_ref())),
                        ("on", json!(modifier.matching.as_ref().is_some_and(|m| m.is_include()))),
                        ("include", include),
                        (
                            "fillValues",
                            object(vec![
                                ("lhs", json!(modifier.fill_values.lhs)),
                                ("rhs", json!(modifier.fill_values.rhs)),
                            ]),
                        ),
                    ])
                }
                None if both_vectors => {
                    let card = if binary.op.is_set_operator() {
                        "many-to-many"
                    } else {
                        "one-to-one"
                    };
                    object(vec![
                        ("card", json!(card)),
                        ("labels", json!([])),
                        ("on", json!(false)),
                        ("include", json!([])),
                        ("fillValues", object(vec![("lhs", Value::Null), ("rhs", Value::Null)])),
                    ])
                }
                _ => Value::Null,
            };
            object(vec![
                ("type", json!("binaryExpr")),
                ("op", json!(binary.op.to_string())),
                ("lhs", translate(&binary.lhs)),
                ("rhs", translate(&binary.rhs)),
                ("matching", matching),
                ("bool", json!(binary.modifier.as_ref().is_some_and(|m| m.return_bool))),
            ])
        }
        Expr::Call(call) => object(vec![
            ("type", json!("call")),
            (
                "func",
                object(vec![
                    ("name", json!(call.func.name)),
                    (
                        "argTypes",
                        json!(
                            call.func
                                .arg_types
                                .iter()
                                .map(|t| value_type_name(*t))
                                .collect::<Vec<_>>()
                        ),
                    ),
                    ("variadic", json!(call.func.variadic)),
                    ("returnType", json!(value_type_name(call.func.return_type))),
                ]),
            ),
            (
                "args",
                Value::Array(call.args.args.iter().map(|a| translate(a)).collect()),
            ),
        ]),
        Expr::MatrixSelector(matrix) => {
            let mut fields = selector_fields(&matrix.vs);
            fields.push(("type", json!("matrixSelector")));
            fields.push(("range", json!(millis(&matrix.range))));
            fields.push(("rangeExpr", Value::Null));
            object(fields)
        }
        Expr::Subquery(subquery) => {
            let (timestamp, start_or_end) = at_fields(&subquery.at);
            object(vec![
                ("type", json!("subquery")),
                ("expr", translate(&subquery.expr)),
                ("range", json!(millis(&subquery.range))),
                ("rangeExpr", Value::Null),
                ("offset", json!(offset_ms(&subquery.offset))),
                ("offsetExpr", Value::Null),
                ("step", json!(subquery.step.as_ref().map_or(0, millis))),
                ("stepExpr", Value::Null),
                ("timestamp", timestamp),
                ("startOrEnd", start_or_end),
            ])
        }
        Expr::NumberLiteral(number) => {
            // Go's 'f' format with shortest digits, never an exponent.
            let val = if number.val.is_finite() {
                format!("{}", number.val)
            } else {
                format_float(number.val)
            };
            object(vec![("type", json!("numberLiteral")), ("val", json!(val))])
        }
        Expr::Paren(paren) => object(vec![("type", json!("parenExpr")), ("expr", translate(&paren.expr))]),
        Expr::StringLiteral(string) => object(vec![("type", json!("stringLiteral")), ("val", json!(string.val))]),
        Expr::Unary(unary) => object(vec![
            ("type", json!("unaryExpr")),
            ("op", json!("-")),
            ("expr", translate(&unary.expr)),
        ]),
        Expr::VectorSelector(selector) => {
            let mut fields = selector_fields(selector);
            fields.push(("type", json!("vectorSelector")));
            object(fields)
        }
        Expr::Extension(_) => Value::Null,
    }
}

pub async fn parse_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse_promql(params.get("query")).map_err(|reason| ApiError::invalid_param("query", reason))?;
    let data = translate(&expr).to_string();
    Ok(json_response(success_envelope(Some(&data), &[], &[])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_like_prometheus() {
        let expr = parse_promql(r#"sum by (job) (rate(up{job="a"}[5m] offset 1m))"#).unwrap();
        let value = translate(&expr);
        assert_eq!(value["type"], "aggregation");
        assert_eq!(value["op"], "sum");
        assert_eq!(value["grouping"], json!(["job"]));
        assert_eq!(value["without"], false);
        let call = &value["expr"];
        assert_eq!(call["func"]["name"], "rate");
        assert_eq!(call["func"]["argTypes"], json!(["matrix"]));
        let matrix = &call["args"][0];
        assert_eq!(matrix["type"], "matrixSelector");
        assert_eq!(matrix["range"], 300_000);
        assert_eq!(matrix["offset"], 60_000);
        assert_eq!(matrix["name"], "up");
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn binary_of_vectors_has_matching() {
        let value = translate(&parse_promql("a + on(job) b").unwrap());
        assert_eq!(value["matching"]["card"], "one-to-one");
        assert_eq!(value["matching"]["on"], true);
        assert_eq!(value["matching"]["labels"], json!(["job"]));
        let value = translate(&parse_promql("1 + 2").unwrap());
        assert_eq!(value["matching"], Value::Null);
        assert_eq!(value["lhs"]["val"], "1");
    }
}
