//! Element-wise functions of one float (`abs`, `ceil`, `ln`, `sin`, `round`, `clamp`, the
//! calendar functions …).
//!
//! Where Go's `math` package defines a result differently from Rust's std (NaN handling of
//! `Min`/`Max`, the formulas of `Log2`/`Log10`), we follow Go, because users compare our
//! output with Prometheus'.

use super::calendar::{civil_from_unix_seconds, days_in_month};

/// Applies an element-wise function. `scalar_args` are the extra scalar parameters in call
/// order (`round(v, to)` → `[to]`, `clamp(v, min, max)` → `[min, max]`). For the calendar
/// functions (`day_of_month`, `hour`, …) `v` is a Unix time in seconds.
/// Returns `None` when the sample is dropped (as `clamp` with min > max does for all samples).
///
/// `None` is also the answer for an unknown name or missing scalar arguments; the evaluator
/// checks both before calling, so that only guards against misuse.
pub fn call(name: &str, v: f64, scalar_args: &[f64]) -> Option<f64> {
    let result = match name {
        "abs" => v.abs(),
        "ceil" => v.ceil(),
        "floor" => v.floor(),
        "exp" => v.exp(),
        "sqrt" => v.sqrt(),
        "ln" => v.ln(),
        "log2" => go_log2(v),
        "log10" => go_log10(v),
        "sgn" => sgn(v),
        "round" => round(v, scalar_args.first().copied().unwrap_or(1.0)),
        "clamp" => return clamp(v, *scalar_args.first()?, *scalar_args.get(1)?),
        "clamp_min" => return clamp(v, *scalar_args.first()?, f64::INFINITY),
        "clamp_max" => return clamp(v, f64::NEG_INFINITY, *scalar_args.first()?),
        "sin" => v.sin(),
        "cos" => v.cos(),
        "tan" => v.tan(),
        "asin" => v.asin(),
        "acos" => v.acos(),
        "atan" => v.atan(),
        "sinh" => v.sinh(),
        "cosh" => v.cosh(),
        "tanh" => v.tanh(),
        "asinh" => v.asinh(),
        "acosh" => v.acosh(),
        "atanh" => v.atanh(),
        "deg" => v * 180.0 / std::f64::consts::PI,
        "rad" => v * std::f64::consts::PI / 180.0,
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" => {
            calendar_field(name, v)
        }
        _ => return None,
    };
    Some(result)
}

/// Whether `name` is an element-wise function handled by [`call`].
pub fn is_elementwise_function(name: &str) -> bool {
    is_calendar_function(name)
        || matches!(
            name,
            "abs"
                | "ceil"
                | "floor"
                | "exp"
                | "sqrt"
                | "ln"
                | "log2"
                | "log10"
                | "sgn"
                | "round"
                | "clamp"
                | "clamp_min"
                | "clamp_max"
                | "sin"
                | "cos"
                | "tan"
                | "asin"
                | "acos"
                | "atan"
                | "sinh"
                | "cosh"
                | "tanh"
                | "asinh"
                | "acosh"
                | "atanh"
                | "deg"
                | "rad"
        )
}

/// Whether `name` is one of the calendar functions. Called without an argument they read
/// the evaluation time instead of a sample (`year()` = `year(vector(time()))`), which the
/// evaluator arranges; with one, [`call`] reads the sample value as Unix seconds.
pub fn is_calendar_function(name: &str) -> bool {
    matches!(
        name,
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
    )
}

/// `max_of(a, b)` and the upper half of `clamp`: Go's `math.Max`. +Inf wins over NaN,
/// otherwise NaN wins, and +0 is larger than -0.
pub fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// `min_of(a, b)` and the lower half of `clamp`: Go's `math.Min`. -Inf wins over NaN,
/// otherwise NaN wins, and -0 is smaller than +0.
pub fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// `clamp(v, min, max)`: no sample at all when `max < min` (PromQL drops every element).
fn clamp(v: f64, min: f64, max: f64) -> Option<f64> {
    if max < min {
        return None;
    }
    Some(go_max(min, go_min(max, v)))
}

/// Rounds half up to a multiple of `to_nearest`. Prometheus multiplies by the inverse
/// because that loses less precision for the common `round(v, 0.1)` style of call.
fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

/// Sign of `v`, keeping NaN and the sign of zero as they are.
fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Go's `math.Log2`: exact for powers of two, otherwise `ln(frac)/ln 2 + exp` from the
/// binary exponent. Differs from libm's `log2` in the last bit for some inputs (log2(10)).
fn go_log2(v: f64) -> f64 {
    let (frac, exp) = frexp(v);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * std::f64::consts::LOG2_E + f64::from(exp)
}

/// Go's `math.Log10`: `ln(v) * (1/ln 10)`.
fn go_log10(v: f64) -> f64 {
    v.ln() * std::f64::consts::LOG10_E
}

/// Splits `v` into a fraction in [0.5, 1) and a power of two, as Go's `math.Frexp`. Zero,
/// infinities and NaN come back unchanged with exponent 0.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let (mut v, mut exp) = (v, 0i32);
    if v.abs() < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        v *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = v.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac_bits = (bits & !(0x7ffu64 << 52)) | (1022u64 << 52);
    (f64::from_bits(frac_bits), exp)
}

/// One calendar field of Unix seconds `v`, UTC. NaN when `v` is no representable instant.
fn calendar_field(name: &str, v: f64) -> f64 {
    let Some(t) = civil_from_unix_seconds(v) else {
        return f64::NAN;
    };
    let field = match name {
        "year" => return t.year as f64,
        "month" => t.month,
        "day_of_month" => t.day,
        "day_of_week" => t.weekday,
        "day_of_year" => t.day_of_year,
        "days_in_month" => days_in_month(t.year, t.month),
        "hour" => t.hour,
        "minute" => t.minute,
        _ => return f64::NAN,
    };
    f64::from(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, v: f64) -> f64 {
        call(name, v, &[]).unwrap()
    }

    /// Equality within relative 1e-6, the tolerance of Prometheus' own test runner: some
    /// expected values in its scripts are only that precise (`sinh(10)` is listed with the
    /// value of `cosh(10)`), and Go's `math` may differ from libm in the last bit.
    fn close(got: f64, want: f64) -> bool {
        if want.is_nan() {
            return got.is_nan();
        }
        if want.is_infinite() || want == 0.0 {
            return got == want;
        }
        ((got - want) / want).abs() < 1e-6
    }

    #[test]
    fn rounding_family_matches_functions_test() {
        let inputs = [
            2.5,
            2.0,
            -2.5,
            -2.0,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let abs = [2.5, 2.0, 2.5, 2.0, 0.0, 0.0, f64::INFINITY, f64::INFINITY, f64::NAN];
        let ceil = [
            3.0,
            2.0,
            -2.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let floor = [
            2.0,
            2.0,
            -3.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let round = [
            3.0,
            2.0,
            -2.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for (i, &v) in inputs.iter().enumerate() {
            assert!(close(f("abs", v), abs[i]), "abs({v})");
            assert!(close(f("ceil", v), ceil[i]), "ceil({v})");
            assert!(close(f("floor", v), floor[i]), "floor({v})");
            assert!(close(f("round", v), round[i]), "round({v})");
        }
    }

    #[test]
    fn round_to_nearest_multiple() {
        assert_eq!(call("round", 5.5, &[2.0]), Some(6.0));
        assert_eq!(call("round", 4.9, &[2.0]), Some(4.0));
        assert_eq!(call("round", 1.25, &[0.1]), Some(1.3));
        assert_eq!(call("round", -1.25, &[0.1]), Some(-1.2));
        assert_eq!(call("round", 0.5, &[1.0]), Some(1.0));
        assert!(call("round", 3.0, &[0.0]).unwrap().is_nan());
    }

    #[test]
    fn clamp_family() {
        assert_eq!(call("clamp_max", 100.0, &[75.0]), Some(75.0));
        assert_eq!(call("clamp_max", -50.0, &[75.0]), Some(-50.0));
        assert_eq!(call("clamp_min", -50.0, &[-25.0]), Some(-25.0));
        assert_eq!(call("clamp", 100.0, &[-25.0, 75.0]), Some(75.0));
        assert_eq!(call("clamp", 0.0, &[-25.0, 75.0]), Some(0.0));
        assert!(call("clamp", 0.0, &[0.0, f64::NAN]).unwrap().is_nan());
        assert!(call("clamp", 100.0, &[f64::NAN, 0.0]).unwrap().is_nan());
        assert_eq!(call("clamp", 1.0, &[5.0, -5.0]), None);
        assert!(call("clamp_min", f64::NAN, &[2.0]).unwrap().is_nan());
        assert_eq!(call("clamp", 1.0, &[5.0]), None, "missing argument drops the sample");
    }

    #[test]
    fn go_min_max_semantics() {
        assert_eq!(go_max(f64::INFINITY, f64::NAN), f64::INFINITY);
        assert!(go_max(3.0, f64::NAN).is_nan());
        assert_eq!(go_min(f64::NEG_INFINITY, f64::NAN), f64::NEG_INFINITY);
        assert!(go_min(f64::NAN, 3.0).is_nan());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_min(-2.0, -5.0), -5.0);
        assert_eq!(go_max(-2.0, -5.0), -2.0);
    }

    #[test]
    fn sgn_keeps_nan_and_zero() {
        assert_eq!(f("sgn", -50.0), -1.0);
        assert_eq!(f("sgn", f64::NEG_INFINITY), -1.0);
        assert_eq!(f("sgn", f64::INFINITY), 1.0);
        assert_eq!(f("sgn", 0.0), 0.0);
        assert!(f("sgn", f64::NAN).is_nan());
    }

    #[test]
    fn exp_and_logs_match_functions_test() {
        assert!(close(f("exp", 10.0), 22026.465794806718));
        assert!(close(f("exp", -10.0), 4.5399929762484854e-05));
        assert!(close(f("ln", 10.0), std::f64::consts::LN_10));
        assert_eq!(f("ln", 0.0), f64::NEG_INFINITY);
        assert!(f("ln", -10.0).is_nan());
        assert!(close(f("sqrt", 10.0), 3.1622776601683795));
        assert!(close(f("log2", 10.0), 3.3219280948873626));
        assert!(close(f("log2", 20.0), 4.321928094887363));
        assert!((f("log2", 10.0) - 3.3219280948873626).abs() < 1e-15);
        assert_eq!(f("log2", 8.0), 3.0);
        assert_eq!(f("log2", 0.0), f64::NEG_INFINITY);
        assert!(f("log2", -10.0).is_nan());
        assert_eq!(f("log10", 10.0), 1.0);
        assert!(close(f("log10", 20.0), 1.301029995663981));
        assert_eq!(f("log10", 0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn frexp_matches_go() {
        assert_eq!(frexp(10.0), (0.625, 4));
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        let (frac, exp) = frexp(f64::from_bits(1)); // smallest subnormal, 2^-1074
        assert_eq!((frac, exp), (0.5, -1073));
    }

    #[test]
    fn trigonometry_matches_trig_functions_test() {
        let cases = [
            ("sin", 10.0, -0.5440211108893699),
            ("cos", 10.0, -0.8390715290764524),
            ("tan", 10.0, 0.6483608274590867),
            ("asin", 10.0 - 10.1, -0.10016742116155944),
            ("acos", 10.0 - 10.1, 1.670963747956456),
            ("atan", 20.0, 1.5208379310729538),
            ("sinh", 10.0, 11013.232920103324),
            ("cosh", 20.0, 2.4258259770489514e+08),
            ("tanh", 10.0, 0.9999999958776927),
            ("asinh", 10.0, 2.99822295029797),
            ("acosh", 20.0, 3.6882538673612966),
            ("atanh", 10.0 - 10.1, -0.10033534773107522),
            ("rad", 10.0, 0.17453292519943295),
            ("deg", 10.0, 572.9577951308232),
            ("deg", -10.0, -572.9577951308232),
        ];
        for (name, v, want) in cases {
            assert!(close(f(name, v), want), "{name}({v}) = {} want {want}", f(name, v));
        }
        assert!(f("asin", 9.9).is_nan());
        assert!(f("sin", f64::NAN).is_nan());
        assert_eq!(f("tanh", 20.0), 1.0);
    }

    #[test]
    fn calendar_functions() {
        let v = 1_136_239_445.0; // 2006-01-02 22:04:05 UTC, Monday
        assert_eq!(f("year", v), 2006.0);
        assert_eq!(f("month", v), 1.0);
        assert_eq!(f("day_of_month", v), 2.0);
        assert_eq!(f("day_of_year", v), 2.0);
        assert_eq!(f("day_of_week", v), 1.0);
        assert_eq!(f("hour", v), 22.0);
        assert_eq!(f("minute", v), 4.0);
        assert_eq!(f("day_of_week", 0.0), 4.0);
        assert_eq!(f("days_in_month", 1_454_284_800.0), 29.0);
        assert_eq!(f("days_in_month", 1_485_907_200.0), 28.0);
        assert!(f("year", f64::NAN).is_nan());
    }

    #[test]
    fn names() {
        assert!(is_elementwise_function("atanh"));
        assert!(is_elementwise_function("days_in_month"));
        assert!(!is_elementwise_function("rate"));
        assert!(!is_elementwise_function("pi"));
        assert!(is_calendar_function("minute"));
        assert!(!is_calendar_function("abs"));
        assert_eq!(call("no_such_function", 1.0, &[]), None);
    }
}
