//! Runs Prometheus' PromQL test scripts (`../shared/compat/promql/*.test`) against the engine
//! through its public API, and checks per-file pass counts against a ratchet baseline.

#[path = "promql_script_format.rs"]
mod format;

use format::{Command, Eval, Expect, Expected, SeriesLine};
use heimsight::promql::{Engine, EngineOptions, PromqlError, QueryOptions, QueryResult, Value};
use heimsight::storage::Labels;
use heimsight::storage::memory::MemorySeriesSet;
use heimsight::storage::model::{Sample, StartTimestamp};
use std::collections::BTreeMap;
use std::path::PathBuf;

const MAX_FAILURES_SHOWN: usize = 5;

#[derive(Default)]
struct FileReport {
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: Vec<String>,
}

fn scripts_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HEIMSIGHT_SHARED_DIR") {
        return PathBuf::from(dir).join("compat/promql");
    }
    // `../shared` from the crate; a git worktree one level deeper finds it at `../../shared`.
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let near = crate_dir.join("../shared/compat/promql");
    if near.is_dir() {
        return near;
    }
    crate_dir.join("../../shared/compat/promql")
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn load(store: &mut MemorySeriesSet, interval: i64, series: &[SeriesLine]) {
    for s in series {
        let samples: Vec<Sample> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|v| Sample {
                    t: i as i64 * interval,
                    v,
                })
            })
            .collect();
        // Prometheus' loader: a start timestamp is the sample's time plus the offset, 0 = none.
        let start_timestamps: Vec<StartTimestamp> = s
            .start_offsets
            .iter()
            .enumerate()
            .filter(|(i, _)| s.values.get(*i).is_some_and(Option::is_some))
            .filter_map(|(i, offset)| {
                let t = i as i64 * interval;
                offset.map(|o| StartTimestamp { t, st: t + o })
            })
            .collect();
        store.add_samples(s.labels.clone(), samples);
        store.add_start_timestamps(s.labels.clone(), start_timestamps);
    }
}

/// Drops the ` (line:col)` position an annotation ends with (only with
/// `PROMQL_SCRIPTS_IGNORE_POSITIONS`, to tell position mistakes from message mistakes).
fn strip_position(s: &str) -> &str {
    let t = s.trim_end();
    if let Some(open) = t.rfind(" (")
        && t.ends_with(')')
        && t[open + 2..t.len() - 1]
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return &t[..open];
    }
    if let Some(open) = t.rfind(r" \(")
        && t.ends_with(r"\)")
    {
        return &t[..open];
    }
    t
}

fn expect_matches(e: &Expect, text: &str) -> bool {
    let lenient = std::env::var("PROMQL_SCRIPTS_IGNORE_POSITIONS").is_ok();
    if let Some(msg) = &e.msg {
        return text == msg || (lenient && strip_position(text) == strip_position(msg));
    }
    if let Some(re) = &e.regex {
        let full = regex::Regex::new(re).is_ok_and(|r| r.is_match(text));
        let stripped = lenient && regex::Regex::new(strip_position(re)).is_ok_and(|r| r.is_match(strip_position(text)));
        return full || stripped;
    }
    true
}

fn check_annotations(eval: &Eval, kind: &str, no_kind: &str, got: &[String]) -> Result<(), String> {
    let wanted: Vec<&Expect> = eval.expects.iter().filter(|e| e.kind == kind).collect();
    if eval.expects.iter().any(|e| e.kind == no_kind) && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got {got:?}"));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotation(s), got none"));
    }
    for w in &wanted {
        if !got.iter().any(|g| expect_matches(w, g)) {
            return Err(format!(
                "no {kind} annotation matches {:?}/{:?}; got {got:?}",
                w.msg, w.regex
            ));
        }
    }
    for g in got {
        if !wanted.iter().any(|w| expect_matches(w, g)) {
            return Err(format!("unexpected {kind} annotation {g:?}"));
        }
    }
    Ok(())
}

fn fmt_labels(l: &Labels) -> String {
    l.to_string()
}

fn compare(eval: &Eval, result: &QueryResult) -> Result<(), String> {
    let ordered = eval.expects.iter().any(|e| e.kind == "ordered");
    match (&eval.expected, &result.value) {
        (Expected::Str(want), Value::String { v, .. }) => {
            if want == v {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {v:?}"))
            }
        }
        (Expected::Scalar(want), Value::Scalar { v, .. }) => {
            if almost_equal(*want, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {want}, got {v}"))
            }
        }
        (Expected::Series(want), Value::Vector(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "expected {} samples, got {}: {:?}",
                    want.len(),
                    got.len(),
                    got.iter()
                        .map(|s| format!("{} {}", fmt_labels(&s.metric), s.f))
                        .collect::<Vec<_>>()
                ));
            }
            for (i, w) in want.iter().enumerate() {
                let Some(wv) = w.values.first().copied().flatten() else {
                    return Err(format!("bad expectation for {}", fmt_labels(&w.labels)));
                };
                let pos = got.iter().position(|g| g.metric == w.labels);
                let Some(pos) = pos else {
                    return Err(format!(
                        "expected series {} not in result {:?}",
                        fmt_labels(&w.labels),
                        got.iter().map(|s| fmt_labels(&s.metric)).collect::<Vec<_>>()
                    ));
                };
                if ordered && pos != i {
                    return Err(format!(
                        "series {} at position {pos}, expected {i}",
                        fmt_labels(&w.labels)
                    ));
                }
                let gv = got[pos].f;
                if !almost_equal(wv, gv) {
                    return Err(format!("{}: expected {wv}, got {gv}", fmt_labels(&w.labels)));
                }
            }
            Ok(())
        }
        (Expected::Series(want), Value::Matrix(got)) => {
            let (start, step) = match (eval.range, eval.range_vector) {
                (Some((s, _, st)), _) => (s, st),
                (None, Some((s, _, st))) => (s, st),
                (None, None) => {
                    if want.is_empty() && got.is_empty() {
                        return Ok(());
                    }
                    return Err("instant query returned a range vector without `expect range vector`".into());
                }
            };
            let got_by: BTreeMap<&Labels, &Vec<(i64, f64)>> = got.iter().map(|s| (&s.metric, &s.floats)).collect();
            if want.len() != got.len() {
                return Err(format!(
                    "expected {} series, got {}: {:?}",
                    want.len(),
                    got.len(),
                    got.iter().map(|s| fmt_labels(&s.metric)).collect::<Vec<_>>()
                ));
            }
            for w in want {
                let Some(points) = got_by.get(&w.labels) else {
                    return Err(format!("expected series {} missing", fmt_labels(&w.labels)));
                };
                let want_points: Vec<(i64, f64)> = w
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (start + i as i64 * step, v)))
                    .collect();
                if want_points.len() != points.len()
                    || want_points
                        .iter()
                        .zip(points.iter())
                        .any(|(a, b)| a.0 != b.0 || !almost_equal(a.1, b.1))
                {
                    return Err(format!(
                        "{}: expected {:?}, got {:?}",
                        fmt_labels(&w.labels),
                        want_points,
                        points
                    ));
                }
            }
            Ok(())
        }
        (want, got) => Err(format!("expected {want:?}, got {} result {got:?}", got.type_name())),
    }
}

fn run_eval(rt: &tokio::runtime::Runtime, engine: &Engine, store: &MemorySeriesSet, eval: &Eval) -> Result<(), String> {
    let opts = QueryOptions::default();
    let outcome: Result<QueryResult, PromqlError> = match eval.range {
        Some((start, end, step)) => rt.block_on(engine.range_query(store, &eval.query, start, end, step, &opts)),
        None => rt.block_on(engine.instant_query(store, &eval.query, eval.start, &opts)),
    };
    let fail = eval.expects.iter().find(|e| e.kind == "fail");
    match (outcome, fail) {
        (Err(err), Some(f)) => {
            let text = err.to_string();
            if expect_matches(f, &text) {
                Ok(())
            } else {
                Err(format!("error {text:?} does not match {:?}/{:?}", f.msg, f.regex))
            }
        }
        (Err(err), None) => Err(format!("unexpected error: {err}")),
        (Ok(res), Some(_)) => Err(format!("expected failure, got {:?}", res.value.type_name())),
        (Ok(res), None) => {
            compare(eval, &res)?;
            check_annotations(eval, "warn", "no_warn", &res.warnings)?;
            check_annotations(eval, "info", "no_info", &res.infos)?;
            Ok(())
        }
    }
}

fn run_file(rt: &tokio::runtime::Runtime, name: &str, text: &str) -> FileReport {
    let mut report = FileReport::default();
    let cmds = match format::parse_script(text) {
        Ok(c) => c,
        Err(e) => {
            report.failed += 1;
            report.failures.push(format!("parse error: {e}"));
            return report;
        }
    };
    let engine = Engine::new(EngineOptions {
        max_samples: 10_000,
        ..EngineOptions::default()
    });
    let mut store = MemorySeriesSet::new();
    let all_native = name == "native_histograms.test";
    // Label sets of series loaded as native histograms since the last `clear`.
    let mut native_series: Vec<Labels> = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                store.clear();
                native_series.clear();
            }
            Command::Load {
                interval,
                series,
                with_nhcb,
            } => {
                for s in &series {
                    if s.native {
                        native_series.push(s.labels.clone());
                    }
                    if with_nhcb && let Some(base) = s.labels.metric_name().and_then(|n| n.strip_suffix("_bucket")) {
                        let mut labels = s.labels.clone();
                        labels.remove("le");
                        labels.set("__name__", base);
                        native_series.push(labels);
                    }
                }
                load(&mut store, interval, &series);
            }
            Command::Eval(eval) => {
                let skip = all_native || eval.native || selects_any(&eval.query, &native_series);
                if skip && std::env::var("PROMQL_SCRIPTS_NO_SKIP").is_err() {
                    report.skipped += 1;
                    continue;
                }
                match run_eval(rt, &engine, &store, &eval) {
                    Ok(()) => report.passed += 1,
                    Err(e) => {
                        report.failed += 1;
                        report
                            .failures
                            .push(format!("line {}: {}\n      {e}", eval.line, eval.query));
                    }
                }
            }
        }
    }
    report
}

/// Whether any selector of `query` matches one of the native-histogram series.
fn selects_any(query: &str, native: &[Labels]) -> bool {
    if native.is_empty() {
        return false;
    }
    // `promql-parser` does not know the `anchored`/`smoothed` modifiers; the selectors are
    // the same without them, which is all this check needs.
    let plain = query.replace(" anchored", "").replace(" smoothed", "");
    let Ok(expr) = promql_parser::parser::parse(&plain) else {
        return false;
    };
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    selectors
        .iter()
        .any(|vs| native.iter().any(|labels| selector_matches(vs, labels)))
}

fn collect_selectors<'a>(
    expr: &'a promql_parser::parser::Expr,
    out: &mut Vec<&'a promql_parser::parser::VectorSelector>,
) {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Subquery(sq) => collect_selectors(&sq.expr, out),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        _ => {}
    }
}

fn selector_matches(vs: &promql_parser::parser::VectorSelector, labels: &Labels) -> bool {
    if let Some(name) = &vs.name
        && labels.metric_name() != Some(name.as_str())
    {
        return false;
    }
    let get = |n: &str| labels.get(n).unwrap_or("");
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    if vs.matchers.or_matchers.is_empty() {
        all(&vs.matchers.matchers)
    } else {
        all(&vs.matchers.matchers) && vs.matchers.or_matchers.iter().any(|alt| all(alt))
    }
}

fn read_baseline(path: &PathBuf) -> BTreeMap<String, usize> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next()?;
            let min = parts.next()?.parse().ok()?;
            Some((file.to_string(), min))
        })
        .collect()
}

fn main() {
    let dir = scripts_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    files.sort();
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let verbose = std::env::var("PROMQL_SCRIPTS_VERBOSE").is_ok();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let baseline = read_baseline(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/promql_baseline.txt"));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut regressions = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let report = run_file(&rt, &name, &text);
        print!("{name}: {} passed, {} failed", report.passed, report.failed);
        if report.skipped > 0 {
            print!(", {} skipped (native histograms, a later issue)", report.skipped);
        }
        println!();
        let shown = if verbose { usize::MAX } else { MAX_FAILURES_SHOWN };
        for f in report.failures.iter().take(shown) {
            println!("    {f}");
        }
        if let Some(min) = baseline.get(&name)
            && report.passed < *min
        {
            regressions.push(format!("{name}: {} passed, baseline {min}", report.passed));
        }
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped;
    }
    println!("skipped (native histograms, a later issue): {skipped}");
    println!("promql scripts: {passed} passed, {failed} failed");
    if !regressions.is_empty() {
        for r in &regressions {
            println!("REGRESSION {r}");
        }
        std::process::exit(1);
    }
}
