//! Expected texts captured from Prometheus 2.42 (`/api/v1/query`, error minus the
//! `invalid parameter "query": ` prefix); 3.x words these the same.

use super::{diagnose, diagnose_selector};

/// Where 2.42's older lexer differs, the expectation follows the 3.x lexer source.
const PROMETHEUS_3_ERRORS: &[(&str, &str)] = &[
    // 2.42: `1:4: parse error: unexpected number ".3"`.
    ("1.2.3", r#"1:1: parse error: bad number or duration syntax: "1.2.""#),
    // 2.42: `1:5: parse error: bad duration syntax: "5"`.
    ("foo[5x]", r#"1:5: parse error: bad number or duration syntax: "5""#),
    // 2.42 quotes the anchored pattern: `^(?:exp_root_log(_h?)$`.
    (
        r#"ln({__name__=~"exp_root_log(_h?"})"#,
        "1:5: parse error: error parsing regexp: missing closing ): `exp_root_log(_h?`",
    ),
    // 2.42 refuses the quoted label name itself; 3.x accepts quoted names and trips on `1`.
    (
        r#"rate(foo{group="canary", ", instance="1", job="app-server"}[110m])"#,
        "1:39: parse error: unexpected character inside braces: '1'",
    ),
    // 2.42: `1:5: parse error: missing unit character in duration`.
    (
        "foo[",
        "1:5: parse error: unexpected end of input in duration expression",
    ),
];

/// (query, Prometheus' error).
const PROMETHEUS_ERRORS: &[(&str, &str)] = &[
    (r"foo bar", r#"1:5: parse error: unexpected identifier "bar""#),
    (r"sum(foo", r"1:8: parse error: unclosed left parenthesis"),
    (r"foo)", r"1:5: parse error: unexpected right parenthesis ')'"),
    (r"foo]", r"1:4: parse error: unexpected right bracket ']'"),
    (r"foo[5m", r"1:7: parse error: unclosed left bracket"),
    (
        r#"foo{a="b""#,
        r"1:10: parse error: unexpected end of input inside braces",
    ),
    (r#"foo{a="b}"#, r"1:7: parse error: unterminated quoted string"),
    (r#""abc"#, r"1:1: parse error: unterminated quoted string"),
    (r"`abc", r"1:1: parse error: unterminated raw string"),
    (r"foo $", r"1:5: parse error: unexpected character: '$'"),
    (
        r#"foo{a~"b"}"#,
        r"1:6: parse error: unexpected character inside braces: '~'",
    ),
    (r"foo !~ 2", r"1:5: parse error: unexpected character after '!': '~'"),
    (r"foo =~ 2", r"1:5: parse error: unexpected character after '=': '~'"),
    (
        r"rate(foo)",
        r#"1:6: parse error: expected type range vector in call to function "rate", got instant vector"#,
    ),
    (
        r"abs(foo, bar)",
        r#"1:1: parse error: expected 1 argument(s) in call to "abs", got 2"#,
    ),
    (
        r"nosuch(foo)",
        r#"1:1: parse error: unknown function with name "nosuch""#,
    ),
    (
        r"{}",
        r"1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        r#"{a=""}"#,
        r"1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (r"foo[1m:1x]", r#"1:8: parse error: bad number or duration syntax: "1""#),
    (
        r#""a" + 1"#,
        r"1:1: parse error: binary expression must contain only scalar and instant vector types",
    ),
    (
        r"rate(foo[5m])[1m]",
        r"1:14: parse error: ranges only allowed for vector selectors",
    ),
    (
        r"(foo)[5m]",
        r"1:6: parse error: ranges only allowed for vector selectors",
    ),
    (
        r"sum(foo) by",
        r#"1:12: parse error: unexpected end of input in grouping opts, expected "(""#,
    ),
    (r"sum by (a) (foo", r"1:16: parse error: unclosed left parenthesis"),
    (r"foo +", r"1:6: parse error: unexpected end of input"),
    (r"1 +", r"1:4: parse error: unexpected end of input"),
    (
        r"foo and 1",
        r#"1:1: parse error: set operator "and" not allowed in binary scalar expression"#,
    ),
    (
        r"foo offset",
        r"1:11: parse error: unexpected end of input in offset, expected duration",
    ),
    (
        r"foo @",
        r"1:6: parse error: unexpected end of input in @, expected timestamp",
    ),
    (
        r"foo @ abc",
        r#"1:7: parse error: unexpected identifier "abc" in @, expected timestamp"#,
    ),
    (
        r"foo[5m] + 1",
        r"1:1: parse error: binary expression must contain only scalar and instant vector types",
    ),
    (
        r"topk(foo)",
        r"1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
    ),
    (
        r"sum()",
        r"1:1: parse error: no arguments for aggregate expression provided",
    ),
    (
        r#"foo{a="b",,}"#,
        r#"1:11: parse error: unexpected "," in label matching, expected identifier or "}""#,
    ),
    (
        r"foo{a}",
        r#"1:6: parse error: unexpected "}" in label matching, expected label matching operator"#,
    ),
    (r"", r"1:1: parse error: no expression found in input"),
    (r"foo\nbar", r"1:4: parse error: unexpected character: '\\'"),
    (r"5m", r#"1:1: parse error: unexpected duration "5m""#),
    (r"foo[5m:1m:1m]", r"1:10: parse error: unexpected colon ':'"),
    (r"foo{{}}", r"1:5: parse error: unexpected left brace '{'"),
    (
        r#"foo{a="\q"}"#,
        r"1:7: parse error: unknown escape sequence U+0071 'q'",
    ),
    (
        r"histogram_quantile(0.9)",
        r#"1:1: parse error: expected 2 argument(s) in call to "histogram_quantile", got 1"#,
    ),
    (
        r"count_values(foo, bar)",
        r"1:14: parse error: expected type string in aggregation parameter, got instant vector",
    ),
    (
        r"quantile(foo, bar)",
        r"1:10: parse error: expected type scalar in aggregation parameter, got instant vector",
    ),
    (
        r"foo offset 5x",
        r#"1:12: parse error: bad number or duration syntax: "5""#,
    ),
    (r"foo group_left bar", r"1:5: parse error: unexpected <group_left>"),
    (
        r"foo and on(a) group_left bar",
        r#"1:1: parse error: no grouping allowed for "and" operation"#,
    ),
    (
        r"foo + bool bar",
        r"1:5: parse error: bool modifier can only be used on comparison operators",
    ),
    (
        r"1 == 1",
        r"1:3: parse error: comparisons between scalars must use BOOL modifier",
    ),
    (
        r"x{y=}",
        r#"1:5: parse error: unexpected "}" in label matching, expected string"#,
    ),
    (r"a :: b", r#"1:3: parse error: unexpected metric identifier "::""#),
    (r")", r"1:2: parse error: unexpected right parenthesis ')'"),
    (r"(", r"1:2: parse error: unclosed left parenthesis"),
    (r"]", r"1:1: parse error: unexpected right bracket ']'"),
    (r"{", r"1:2: parse error: unexpected end of input inside braces"),
    (r"}", r"1:1: parse error: unexpected character: '}'"),
    (r"((foo)", r"1:7: parse error: unclosed left parenthesis"),
    (r"foo))", r"1:5: parse error: unexpected right parenthesis ')'"),
    (r"-", r"1:2: parse error: unexpected end of input"),
    (
        r"time(1)",
        r#"1:1: parse error: expected 0 argument(s) in call to "time", got 1"#,
    ),
    (
        r"vector()",
        r#"1:1: parse error: expected 1 argument(s) in call to "vector", got 0"#,
    ),
    (
        r"sum(rate(foo[5m]) by (a)",
        r"1:19: parse error: unexpected <by> in aggregation",
    ),
    (r"foo @ start(", r"1:13: parse error: unclosed left parenthesis"),
    (
        r#"abs("a")"#,
        r#"1:5: parse error: expected type instant vector in call to function "abs", got string"#,
    ),
    (
        r"scalar(foo[5m])",
        r#"1:8: parse error: expected type instant vector in call to function "scalar", got range vector"#,
    ),
    (
        r"rate(1)",
        r#"1:6: parse error: expected type range vector in call to function "rate", got scalar"#,
    ),
    (
        r"foo[5m] offset 1m [1m]",
        r"1:19: parse error: ranges only allowed for vector selectors",
    ),
    (r"sum without(a, b", r"1:17: parse error: unclosed left parenthesis"),
    (r"foo bool", r"1:5: parse error: unexpected <bool>"),
    (
        r#"{__name__=""}"#,
        r"1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        r#"foo{__name__="bar"}"#,
        r#"1:1: parse error: metric name must not be set twice: "foo" or "bar""#,
    ),
    (
        r"foo:bar{a=1}",
        r"1:11: parse error: unexpected character inside braces: '1'",
    ),
    (r"abs(foo bar)", r#"1:9: parse error: unexpected identifier "bar""#),
    (
        r#"foo{a="b" c="d"}"#,
        r#"1:11: parse error: unexpected identifier "c" in label matching, expected "," or "}""#,
    ),
    (r#"foo{a="b"}{c="d"}"#, r#"1:11: parse error: unexpected "{""#),
    (
        r"foo[5m] [1m]",
        r"1:9: parse error: ranges only allowed for vector selectors",
    ),
    (
        r"foo offset 5m offset 1m",
        r"1:1: parse error: offset may not be set multiple times",
    ),
    (
        r"foo @ 1 @ 2",
        r"1:1: parse error: @ <timestamp> may not be set multiple times",
    ),
    (
        r"foo + on",
        r#"1:9: parse error: unexpected end of input in grouping opts, expected "(""#,
    ),
    (
        r"foo + on(1)",
        r#"1:10: parse error: unexpected number "1" in grouping opts, expected label"#,
    ),
    (
        r"sum by(a) foo",
        r#"1:11: parse error: unexpected identifier "foo" in aggregation"#,
    ),
    (r"sum(foo) by (a) by (b)", r"1:17: parse error: unexpected <by>"),
    (r"foo[5m:]x", r#"1:9: parse error: unexpected identifier "x""#),
    (r"(foo bar)", r#"1:6: parse error: unexpected identifier "bar""#),
    (
        r"foo[5m 1m]",
        r#"1:8: parse error: unexpected duration "1m" in subquery or range, expected ":" or "]""#,
    ),
    (r"foo + * bar", r"1:7: parse error: unexpected <op:*>"),
    (
        r#"-"a""#,
        r#"1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "string""#,
    ),
    (r"foo,bar", r#"1:4: parse error: unexpected ",""#),
    (
        r#"foo{a=="b"}"#,
        r#"1:7: parse error: unexpected "=" in label matching, expected string"#,
    ),
    (
        r"abs(foo, )",
        r"1:8: parse error: trailing commas not allowed in function call args",
    ),
    (r"foo[5m]]", r"1:8: parse error: unexpected right bracket ']'"),
    (
        r"foo offset 1m foo",
        r#"1:15: parse error: unexpected identifier "foo""#,
    ),
    (r"abs(1)(2)", r#"1:7: parse error: unexpected "(""#),
    (
        r"foo @ bar()",
        r#"1:7: parse error: unexpected identifier "bar" in @, expected timestamp"#,
    ),
    (
        r"foo offset -1m5",
        r#"1:13: parse error: bad number or duration syntax: "1m5""#,
    ),
    (
        r"rate(foo[5m)",
        r#"1:12: parse error: unexpected ")" in subquery or range, expected ":" or "]""#,
    ),
    (
        r#"foo{a="\xzz"}"#,
        r"1:7: parse error: illegal character U+007A 'z' in escape sequence",
    ),
    (
        r#""\u12""#,
        r#"1:1: parse error: illegal character U+0022 '"' in escape sequence"#,
    ),
    (r"foo == bool", r"1:12: parse error: unexpected end of input"),
    (
        r"foo / on(a) group_right(1) bar",
        r#"1:25: parse error: unexpected number "1" in grouping opts, expected label"#,
    ),
    (
        r"abs(foo)[5m]",
        r"1:9: parse error: ranges only allowed for vector selectors",
    ),
    (r"1[5m]", r"1:2: parse error: ranges only allowed for vector selectors"),
    (
        r"round()",
        r#"1:1: parse error: expected at least 1 argument(s) in call to "round", got 0"#,
    ),
    (
        r"round(a,1,2)",
        r#"1:1: parse error: expected at most 2 argument(s) in call to "round", got 3"#,
    ),
    (
        r"label_join(a)",
        r#"1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1"#,
    ),
    (
        r"sum(foo[5m])",
        r"1:5: parse error: expected type instant vector in aggregation expression, got range vector",
    ),
    (
        r"sum(foo, bar)",
        r"1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
    ),
    (
        r"foo + on(a) 1",
        r"1:1: parse error: vector matching only allowed between instant vectors",
    ),
    (
        r"abs(foo) offset 5m",
        r"1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    ),
    (
        r#"foo{a=~"b"} + sum(rate(x[5m]:1m))"#,
        r#"1:29: parse error: unexpected metric identifier ":1m" in aggregation"#,
    ),
    (
        r"foo @ start",
        r"1:12: parse error: unexpected end of input in @, expected timestamp",
    ),
    (
        r#"vector("a")"#,
        r#"1:8: parse error: expected type scalar in call to function "vector", got string"#,
    ),
    (
        r#"label_replace(foo, "a", "b", "c", 1)"#,
        r#"1:35: parse error: expected type string in call to function "label_replace", got scalar"#,
    ),
    (
        r"deriv(1)",
        r#"1:7: parse error: expected type range vector in call to function "deriv", got scalar"#,
    ),
    (
        r"sum by (a) (foo) without (b)",
        r"1:18: parse error: unexpected <without>",
    ),
    (
        r"-foo[5m]",
        r#"1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "range vector""#,
    ),
    (
        r"foo or 1",
        r#"1:1: parse error: set operator "or" not allowed in binary scalar expression"#,
    ),
    (
        r"avg_over_time(met-ric6c[1m])",
        r"1:19: parse error: binary expression must contain only scalar and instant vector types",
    ),
    (
        r"histogram_fraction(0, , testhistogram2)",
        r"1:21: parse error: trailing commas not allowed in function call args",
    ),
    (
        r"histogram_quantile(0.01, *nonmonotonic_bucket)",
        r"1:24: parse error: trailing commas not allowed in function call args",
    ),
    (
        r#"SU BY (group) (((http_requests{job="api-server"})))"#,
        r"1:4: parse error: unexpected <BY>",
    ),
    (
        r"increase(native_histogram[10m:3m)",
        r#"1:33: parse error: unexpected ")" in subquery selector, expected "]""#,
    ),
    (
        r#"count_values(((("version")))))), version)"#,
        "1:31: parse error: unexpected right parenthesis ')'",
    ),
    (r" and avg(data)", "1:6: parse error: unexpected <aggr:avg>"),
    (r"deg( on trig - 20)", "1:6: parse error: unexpected <on>"),
    (
        r"histogram_quantile(0.5,  ignoring balanced_histogram)",
        "1:23: parse error: trailing commas not allowed in function call args",
    ),
    (
        r"avg_over_time(foo[100s]) -  group_left 52",
        "1:29: parse error: unexpected <group_left>",
    ),
    (
        r"sum(rate(x[10m])) by ( : le, instance)",
        r#"1:24: parse error: unexpected metric identifier ":" in grouping opts, expected label"#,
    ),
    (
        "1[5m:1m]",
        "1:1: parse error: subquery is only allowed on instant vector, got scalar instead",
    ),
    (
        r#""a"[5m:]"#,
        "1:1: parse error: subquery is only allowed on instant vector, got string instead",
    ),
    (
        "rate(foo[5m:1m][5m:1m])",
        "1:6: parse error: subquery is only allowed on instant vector, got matrix instead",
    ),
    (
        "sum(1 + (2)[5m:])",
        "1:9: parse error: subquery is only allowed on instant vector, got scalar instead",
    ),
    (
        "foo offset 5m [1m]",
        "1:15: parse error: no offset modifiers allowed before range",
    ),
    ("foo @ 1 [1m]", "1:9: parse error: no @ modifiers allowed before range"),
    (
        "(foo) offset 5m",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    ),
    (
        "sum(foo) @ 1",
        "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    ),
    (
        "foo[5m:] offset 1m offset 2m",
        "1:1: parse error: offset may not be set multiple times",
    ),
    (
        "foo[5m] @ 1 @ 2",
        "1:1: parse error: @ <timestamp> may not be set multiple times",
    ),
    (
        "sum(foo, )",
        "1:8: parse error: trailing commas not allowed in function call args",
    ),
    (
        r"12.34e$+6",
        r#"1:1: parse error: error parsing number: strconv.ParseFloat: parsing "12.34e": invalid syntax"#,
    ),
    (
        r"0x",
        r#"1:1: parse error: error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax"#,
    ),
];

#[test]
fn matches_prometheus_wording_and_positions() {
    let mut mismatches = Vec::new();
    for (query, expected) in PROMETHEUS_ERRORS.iter().chain(PROMETHEUS_3_ERRORS) {
        let got = diagnose(query, "promql-parser message");
        if got != *expected {
            mismatches.push(format!("{query:?}\n   got: {got}\n  want: {expected}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn unmodelled_errors_fall_back_to_the_parser_message_at_1_1() {
    assert_eq!(
        diagnose("foo{a=~\"a{2\"}", "parse error: invalid regex"),
        "1:1: parse error: invalid regex"
    );
    assert_eq!(diagnose("foo", "something odd"), "1:1: parse error: something odd");
}

#[test]
fn positions_count_lines_and_bytes() {
    assert_eq!(diagnose("sum(\nfoo", ""), "2:4: parse error: unclosed left parenthesis");
    assert_eq!(diagnose("\"é\" $", ""), "1:6: parse error: unexpected character: '$'");
}

#[test]
fn hostile_input_does_not_panic() {
    let deep = "(".repeat(5000) + &")".repeat(5000);
    let _ = diagnose(&deep, "x");
    for query in [
        "\"\\",
        "`",
        "0x",
        "1e+",
        "foo[",
        "foo[5m:",
        "@",
        "{a=~",
        "\u{0}",
        "é(",
        "foo{a=\"\\u{d800}\"}",
    ] {
        let _ = diagnose(query, "x");
    }
}

/// `match[]` errors captured from Prometheus 2.42 `/api/v1/series`.
#[test]
fn selector_errors_match_prometheus() {
    let cases = [
        ("up{", "1:4: parse error: unexpected end of input inside braces"),
        ("sum(up)", r#"1:4: parse error: unexpected "(""#),
        ("up)", "1:4: parse error: unexpected right parenthesis ')'"),
        ("up bar", r#"1:4: parse error: unexpected identifier "bar""#),
        ("rate(up[5m])", r#"1:5: parse error: unexpected "(""#),
        ("up[5m]", r#"1:3: parse error: unexpected "[""#),
        ("up offset 5m", "1:4: parse error: unexpected <offset>"),
        ("1", r#"1:1: parse error: unexpected number "1""#),
        (r#""a""#, r#"1:1: parse error: unexpected string "\"a\"""#),
        (r#"up{a="b"}{"#, r#"1:10: parse error: unexpected "{""#),
        (r#"up{a="b"} + 1"#, "1:11: parse error: unexpected <op:+>"),
        ("-up", "1:1: parse error: unexpected <op:->"),
        ("(up)", r#"1:1: parse error: unexpected "(""#),
    ];
    for (text, expected) in cases {
        assert_eq!(diagnose_selector(text).as_deref(), Some(expected), "{text}");
    }
    for valid in ["by", r#"{__name__="a",a="b"}"#, "up", r#"{a=""}"#] {
        assert_eq!(diagnose_selector(valid), None, "{valid}");
    }
}
