//! The type checks Prometheus runs over a syntactically valid query (`checkAST`), in its
//! order: children before parents, except a call's argument count, checked first.

use super::tree::{Binary, Card, Matcher, Node, Problem, Stop, Type};

type Checked = Result<Type, Stop>;

fn found(pos: usize, message: String) -> Stop {
    Stop::Found(Problem { pos, message })
}

pub fn check(node: &Node) -> Checked {
    match node {
        Node::Number { .. } => Ok(Type::Scalar),
        Node::Str { .. } => Ok(Type::String),
        Node::Selector {
            pos, name, matchers, ..
        } => {
            selector(*pos, name.as_deref(), matchers)?;
            Ok(Type::Vector)
        }
        Node::Matrix { .. } => Ok(Type::Matrix),
        Node::Subquery { pos, inner, .. } => {
            let t = check(inner)?;
            if t != Type::Vector {
                return Err(found(
                    *pos,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        t.value_type()
                    ),
                ));
            }
            Ok(Type::Matrix)
        }
        Node::Paren { inner, .. } => check(inner),
        Node::Unary { pos, inner } => {
            let t = check(inner)?;
            if t != Type::Scalar && t != Type::Vector {
                return Err(found(
                    *pos,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                        super::go_quote(t.documented())
                    ),
                ));
            }
            Ok(t)
        }
        Node::Binary(binary) => self::binary(binary),
        Node::Call { pos, name, args } => call(*pos, name, args),
        Node::Aggregate { op, args, .. } => aggregate(op, args),
    }
}

fn expect(node: &Node, wanted: Type, context: &str) -> Result<(), Stop> {
    let got = check(node)?;
    if got != wanted {
        return Err(found(
            node.pos(),
            format!(
                "expected type {} in {context}, got {}",
                wanted.documented(),
                got.documented()
            ),
        ));
    }
    Ok(())
}

fn call(pos: usize, name: &str, args: &[Node]) -> Checked {
    let Some((_, arg_types, variadic, return_type)) = super::functions::lookup(name) else {
        return Err(Stop::Unknown);
    };
    let declared = arg_types.len();
    let quoted = super::go_quote(name);
    if *variadic == 0 {
        if declared != args.len() {
            return Err(found(
                pos,
                format!(
                    "expected {declared} argument(s) in call to {quoted}, got {}",
                    args.len()
                ),
            ));
        }
    } else {
        let required = declared.saturating_sub(1);
        if required > args.len() {
            return Err(found(
                pos,
                format!(
                    "expected at least {required} argument(s) in call to {quoted}, got {}",
                    args.len()
                ),
            ));
        }
        let most = required + usize::try_from(*variadic).unwrap_or(0);
        if *variadic > 0 && most < args.len() {
            return Err(found(
                pos,
                format!(
                    "expected at most {most} argument(s) in call to {quoted}, got {}",
                    args.len()
                ),
            ));
        }
    }
    let context = format!("call to function {quoted}");
    for (i, arg) in args.iter().enumerate() {
        let Some(wanted) = arg_types.get(i).or(arg_types.last()) else {
            return Err(Stop::Unknown);
        };
        expect(arg, *wanted, &context)?;
    }
    Ok(*return_type)
}

fn aggregate(op: &str, args: &[Node]) -> Checked {
    let (param, expr) = match args {
        [expr] => (None, expr),
        [param, expr] => (Some(param), expr),
        _ => return Err(Stop::Unknown),
    };
    expect(expr, Type::Vector, "aggregation expression")?;
    if let Some(param) = param {
        let wanted = if op == "count_values" {
            Type::String
        } else {
            Type::Scalar
        };
        expect(param, wanted, "aggregation parameter")?;
    }
    Ok(Type::Vector)
}

fn binary(b: &Binary) -> Checked {
    let lt = check(&b.lhs)?;
    let rt = check(&b.rhs)?;
    let comparison = matches!(b.op.as_str(), "==" | "!=" | "<=" | "<" | ">=" | ">");
    let set = matches!(b.op.as_str(), "and" | "or" | "unless");
    let pos = b.lhs.pos();
    if b.return_bool && !comparison {
        return Err(found(
            b.op_pos,
            "bool modifier can only be used on comparison operators".into(),
        ));
    }
    if comparison && !b.return_bool && lt == Type::Scalar && rt == Type::Scalar {
        return Err(found(
            b.op_pos,
            "comparisons between scalars must use BOOL modifier".into(),
        ));
    }
    for (t, operand) in [(lt, &b.lhs), (rt, &b.rhs)] {
        if t != Type::Scalar && t != Type::Vector {
            return Err(found(
                operand.pos(),
                "binary expression must contain only scalar and instant vector types".into(),
            ));
        }
    }
    if lt != Type::Vector || rt != Type::Vector {
        if b.has_matching_labels {
            return Err(found(
                pos,
                "vector matching only allowed between instant vectors".into(),
            ));
        }
    } else if set && b.card != Card::OneToOne {
        return Err(found(
            pos,
            format!("no grouping allowed for {} operation", super::go_quote(&b.op)),
        ));
    }
    if (lt == Type::Scalar || rt == Type::Scalar) && set {
        return Err(found(
            pos,
            format!(
                "set operator {} not allowed in binary scalar expression",
                super::go_quote(&b.op)
            ),
        ));
    }
    if lt == Type::Scalar && rt == Type::Scalar {
        Ok(Type::Scalar)
    } else {
        Ok(Type::Vector)
    }
}

fn selector(pos: usize, name: Option<&str>, matchers: &[Matcher]) -> Result<(), Stop> {
    if let Some(name) = name {
        if let Some(m) = matchers.iter().find(|m| m.name == "__name__") {
            let Some(value) = &m.value else {
                return Err(Stop::Unknown);
            };
            return Err(found(
                pos,
                format!(
                    "metric name must not be set twice: {} or {}",
                    super::go_quote(name),
                    super::go_quote(value)
                ),
            ));
        }
        return Ok(());
    }
    let mut non_empty = false;
    for m in matchers {
        let Some(value) = &m.value else {
            return Err(Stop::Unknown);
        };
        let matches_empty = match m.op.as_str() {
            "=" => value.is_empty(),
            "!=" => !value.is_empty(),
            "=~" | "!~" => {
                let Ok(re) = regex::Regex::new(&format!("^(?s:{value})$")) else {
                    return Err(Stop::Unknown);
                };
                re.is_match("") == (m.op == "=~")
            }
            _ => return Err(Stop::Unknown),
        };
        non_empty |= !matches_empty;
    }
    if !non_empty {
        return Err(found(
            pos,
            "vector selector must contain at least one non-empty matcher".into(),
        ));
    }
    Ok(())
}
