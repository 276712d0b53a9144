//! Request parameters read the way Prometheus reads them: URL query and urlencoded body merged
//! (body first, as Go's `r.Form`), times as float seconds or RFC3339, durations as float
//! seconds or Prometheus durations, `match[]` as series selectors. Error texts are Prometheus'.

use crate::prom_api::errors::ApiError;
use crate::server::duration::parse_prom_duration;
use crate::storage::{LabelMatcher, MatchOp};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

/// `MinTime` of Prometheus' API (ms): the default start of optional ranges.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// `MaxTime` of Prometheus' API (ms): the default end of optional ranges.
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;
/// How Go clients spell `MinTime` and `MaxTime` (Go's time parser cannot read these years).
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_TEXT: &str = "292277025-08-18T07:12:54.999999999Z";

/// All parameters of a request, body values before query-string values.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// Go's `FormValue`: the first value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    }

    /// Every value of a repeated parameter (`match[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

fn is_form_body(req: &Request) -> bool {
    let method_has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    method_has_body && media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_string();
        let mut pairs: Vec<(String, String)> = Vec::new();
        if is_form_body(&req) {
            // `Bytes` honours the router's body limit.
            let body = Bytes::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            pairs.extend(url::form_urlencoded::parse(&body).into_owned());
        }
        pairs.extend(url::form_urlencoded::parse(query.as_bytes()).into_owned());
        Ok(Self { pairs })
    }
}

/// Prometheus' `parseTime`: float Unix seconds (fraction rounded to ms), RFC3339 with
/// optional fraction and offset, or the two boundary strings Go clients send.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let cannot = || format!("cannot parse {} to a valid timestamp", go_quote(text));
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(cannot());
        }
        let whole = seconds.trunc();
        let fraction_ms = ((seconds - whole) * 1000.0).round();
        let ms = whole * 1000.0 + fraction_ms;
        // Out of the int64 millisecond range Prometheus computes garbage; refuse instead.
        if !(MIN_TIME_MS as f64..=MAX_TIME_MS as f64).contains(&ms) {
            return Err(cannot());
        }
        return Ok(ms as i64);
    }
    if let Ok(parsed) = chrono::DateTime::parse_from_rfc3339(text)
        && text.len() >= 20
        && text.as_bytes().get(10) == Some(&b'T')
    {
        return Ok(parsed.timestamp_millis());
    }
    match text {
        MIN_TIME_TEXT => Ok(MIN_TIME_MS),
        MAX_TIME_TEXT => Ok(MAX_TIME_MS),
        _ => Err(cannot()),
    }
}

/// An optional time parameter (`parseTimeParam`), with its default when absent.
pub fn time_param(params: &Params, name: &str, default_ms: i64) -> Result<i64, ApiError> {
    let value = params.get(name);
    if value.is_empty() {
        return Ok(default_ms);
    }
    parse_time(value)
        .map_err(|reason| ApiError::invalid_param(name, format!("invalid time value for '{name}': {reason}")))
}

/// Prometheus' `parseDuration`, in nanoseconds: float seconds or a Prometheus duration.
pub fn parse_duration_ns(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let ns = seconds * 1e9;
        if ns.is_nan() {
            return Err(format!("cannot parse {} to a valid duration", go_quote(text)));
        }
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(text)
            ));
        }
        return Ok(ns as i64);
    }
    if let Ok(ms) = parse_prom_duration(text) {
        return Ok(ms * 1_000_000);
    }
    Err(format!("cannot parse {} to a valid duration", go_quote(text)))
}

/// An optional duration parameter in milliseconds (`timeout`, `lookback_delta`).
pub fn duration_param_ms(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    let value = params.get(name);
    if value.is_empty() {
        return Ok(None);
    }
    let ns = parse_duration_ns(value).map_err(|reason| ApiError::invalid_param(name, reason))?;
    Ok(Some(ns / 1_000_000))
}

/// `parseLimitParam`: absent or 0 means no limit.
pub fn limit_param(params: &Params) -> Result<usize, ApiError> {
    let value = params.get("limit");
    if value.is_empty() {
        return Ok(0);
    }
    let parsed = go_atoi(value).map_err(|reason| ApiError::invalid_param("limit", reason))?;
    if parsed < 0 {
        return Err(ApiError::invalid_param("limit", "limit must be non-negative"));
    }
    Ok(usize::try_from(parsed).unwrap_or(usize::MAX))
}

/// Go's `strconv.Atoi`, with its error texts.
pub fn go_atoi(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(text)));
    }
    text.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(text)))
}

/// Go's `%q` for the strings that appear in error texts.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Most selectors a single request may carry; each is parsed and matched, so the count is
/// bounded like every other input.
const MAX_MATCH_SELECTORS: usize = 1000;

/// Parses `match[]` values into matcher sets (ORed), each of which must hold at least one
/// matcher that does not match the empty string.
pub fn parse_match_sets(values: &[&str]) -> Result<Vec<Vec<LabelMatcher>>, String> {
    if values.len() > MAX_MATCH_SELECTORS {
        return Err(format!(
            "too many match[] selectors: at most {MAX_MATCH_SELECTORS} are accepted"
        ));
    }
    let mut sets = Vec::with_capacity(values.len());
    for value in values {
        sets.extend(parse_selector(value)?);
    }
    for set in &sets {
        if !set.iter().any(|m| !m.matches_empty()) {
            return Err("match[] must contain at least one non-empty matcher".to_string());
        }
    }
    Ok(sets)
}

/// One series selector (`up`, `{job="x"}`, `up{job=~"a|b"}`) as matcher sets: one set, or
/// several when the selector uses promql-parser's `or` between matcher groups.
pub fn parse_selector(text: &str) -> Result<Vec<Vec<LabelMatcher>>, String> {
    use promql_parser::parser::Expr;
    const PARSER_EMPTY_MATCHER: &str = "vector selector must contain at least one non-empty matcher";
    let expr = parse_promql(text).map_err(|reason| {
        // promql-parser checks this itself; Prometheus' API words it for `match[]`.
        if reason.contains(PARSER_EMPTY_MATCHER) {
            "match[] must contain at least one non-empty matcher".to_string()
        } else {
            crate::promql::parse_error::diagnose_selector(text).unwrap_or(reason)
        }
    })?;
    let Expr::VectorSelector(selector) = expr else {
        // Prometheus parses `match[]` with a selector-only grammar and refuses the first
        // token that does not fit it.
        return Err(crate::promql::parse_error::diagnose_selector(text)
            .unwrap_or_else(|| format!("parse error: expected a series selector, got {}", go_quote(text))));
    };
    selector_matcher_sets(&selector)
}

/// Parses PromQL with promql-parser, its errors worded and placed as Prometheus' are
/// (`1:5: parse error: …`).
pub fn parse_promql(text: &str) -> Result<promql_parser::parser::Expr, String> {
    promql_parser::parser::parse(text).map_err(|reason| crate::promql::parse_error::diagnose(text, &reason))
}

/// Converts a parsed vector selector into the store's matchers.
pub fn selector_matcher_sets(
    selector: &promql_parser::parser::VectorSelector,
) -> Result<Vec<Vec<LabelMatcher>>, String> {
    let mut common = Vec::new();
    for matcher in &selector.matchers.matchers {
        common.push(convert_matcher(matcher)?);
    }
    if let Some(name) = &selector.name
        && !common
            .iter()
            .any(|m: &LabelMatcher| m.name == crate::storage::METRIC_NAME)
    {
        common.push(LabelMatcher::equal(crate::storage::METRIC_NAME, name.clone()));
    }
    if selector.matchers.or_matchers.is_empty() {
        return Ok(vec![common]);
    }
    let mut sets = Vec::with_capacity(selector.matchers.or_matchers.len());
    for group in &selector.matchers.or_matchers {
        let mut set = common.clone();
        for matcher in group {
            set.push(convert_matcher(matcher)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

fn convert_matcher(matcher: &promql_parser::label::Matcher) -> Result<LabelMatcher, String> {
    use promql_parser::label::MatchOp as ParserOp;
    let op = match matcher.op {
        ParserOp::Equal => MatchOp::Equal,
        ParserOp::NotEqual => MatchOp::NotEqual,
        ParserOp::Re(_) => MatchOp::RegexMatch,
        ParserOp::NotRe(_) => MatchOp::RegexNoMatch,
    };
    LabelMatcher::new(matcher.name.clone(), op, matcher.value.clone()).map_err(|e| e.to_string())
}

/// Undoes Grafana's `U__` escaping of label names (`U__http_2e_status__code` →
/// `http.status_code`); a name that does not decode cleanly is used as given, as Prometheus does.
pub fn unescape_label_name(name: &str) -> String {
    let Some(escaped) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let bytes = escaped.as_bytes();
    let mut out = String::with_capacity(escaped.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'_' {
            // Copy one whole UTF-8 character.
            let Some(c) = escaped[i..].chars().next() else {
                return name.to_string();
            };
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        i += 1;
        if i >= bytes.len() {
            return name.to_string();
        }
        if bytes[i] == b'_' {
            out.push('_');
            i += 1;
            continue;
        }
        let mut code: u32 = 0;
        let mut digits = 0;
        loop {
            if i >= bytes.len() || digits >= 6 {
                return name.to_string();
            }
            if bytes[i] == b'_' {
                break;
            }
            let Some(digit) = (bytes[i] as char).to_digit(16) else {
                return name.to_string();
            };
            code = code * 16 + digit;
            digits += 1;
            i += 1;
        }
        let Some(c) = char::from_u32(code) else {
            return name.to_string();
        };
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("1795294365.123"), Ok(1795294365123));
        assert_eq!(parse_time("1435781451.7815"), Ok(1435781451782));
        assert_eq!(parse_time("1e9"), Ok(1_000_000_000_000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Ok(1435781451781));
        assert_eq!(parse_time("2015-07-01T22:10:51+02:00"), Ok(1435781451000));
        assert_eq!(parse_time(MIN_TIME_TEXT), Ok(MIN_TIME_MS));
        assert_eq!(parse_time(MAX_TIME_TEXT), Ok(MAX_TIME_MS));
        // Grafana's exemplar probe sends milliseconds where seconds are expected.
        assert_eq!(parse_time("1795294365123"), Ok(1_795_294_365_123_000));
        assert_eq!(
            parse_time("abc"),
            Err("cannot parse \"abc\" to a valid timestamp".to_string())
        );
        for bad in ["NaN", "Inf", "-Inf", "1e300", "", "2015-07-01"] {
            assert!(parse_time(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn time_param_error_text_matches_prometheus() {
        let params = Params::from_pairs(vec![("time".into(), "abc".into())]);
        let err = time_param(&params, "time", 0).unwrap_err();
        assert_eq!(
            err.message,
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp"
        );
        assert_eq!(time_param(&Params::default(), "start", MIN_TIME_MS), Ok(MIN_TIME_MS));
    }

    #[test]
    fn durations_accept_seconds_and_prometheus_units() {
        assert_eq!(parse_duration_ns("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_ns("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_ns("1e3"), Ok(1_000_000_000_000));
        assert_eq!(parse_duration_ns("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration_ns("-1"), Ok(-1_000_000_000));
        assert_eq!(
            parse_duration_ns("abc"),
            Err("cannot parse \"abc\" to a valid duration".into())
        );
        assert_eq!(
            parse_duration_ns("1e30"),
            Err("cannot parse \"1e30\" to a valid duration. It overflows int64".into())
        );
        assert!(parse_duration_ns("1.5m").is_err());
    }

    #[test]
    fn limits_parse_like_atoi() {
        let with = |v: &str| Params::from_pairs(vec![("limit".into(), v.into())]);
        assert_eq!(limit_param(&Params::default()), Ok(0));
        assert_eq!(limit_param(&with("5")), Ok(5));
        assert_eq!(
            limit_param(&with("abc")).unwrap_err().message,
            "invalid parameter \"limit\": strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            limit_param(&with("-1")).unwrap_err().message,
            "invalid parameter \"limit\": limit must be non-negative"
        );
    }

    #[test]
    fn params_prefer_body_values() {
        let params = Params::from_pairs(vec![
            ("query".into(), "body".into()),
            ("match[]".into(), "a".into()),
            ("query".into(), "url".into()),
            ("match[]".into(), "b".into()),
        ]);
        assert_eq!(params.get("query"), "body");
        assert_eq!(params.all("match[]"), vec!["a", "b"]);
        assert_eq!(params.get("absent"), "");
    }

    #[test]
    fn match_sets_need_a_non_empty_matcher() {
        let sets = parse_match_sets(&["up", r#"{job="x",env=~"a|b"}"#]).unwrap();
        assert_eq!(sets.len(), 2);
        assert!(sets[0].iter().any(|m| m.name == "__name__" && m.value == "up"));
        assert_eq!(sets[1].len(), 2);
        assert!(parse_match_sets(&[r#"{__name__!=""}"#]).is_ok());
        assert_eq!(
            parse_match_sets(&[r#"{job=~".*"}"#]).unwrap_err(),
            "match[] must contain at least one non-empty matcher"
        );
        assert!(parse_match_sets(&["up +"]).is_err());
        assert!(parse_match_sets(&["sum(up)"]).is_err());
    }

    #[test]
    fn label_names_unescape_grafana_style() {
        assert_eq!(unescape_label_name("U__http_2e_status__code"), "http.status_code");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__bad_zz_"), "U__bad_zz_");
        assert_eq!(unescape_label_name("U__open_2e"), "U__open_2e");
    }
}
