//! Values as the evaluator passes them between nodes. They carry Prometheus' `DropName` flag:
//! with delayed name removal a function marks a sample instead of deleting `__name__` at once,
//! so that later `label_replace(…, "__name__", …)` or `by (__name__)` still see it.

use crate::storage::Labels;

/// One element of an instant vector during evaluation.
#[derive(Clone, Debug)]
pub struct Sample {
    pub metric: Labels,
    /// The sample's own timestamp (only differs from the evaluation time for selector output,
    /// which `timestamp()` reads).
    pub t: i64,
    pub f: f64,
    pub drop_name: bool,
}

/// One series of a range vector during evaluation.
#[derive(Clone, Debug)]
pub struct Series {
    pub metric: Labels,
    pub points: Vec<(i64, f64)>,
    /// The start timestamp of each point (0: unknown), or empty when none has one. Only a
    /// range selector fills it: like Prometheus, subqueries and expressions cut start
    /// timestamps off.
    pub start_timestamps: Vec<i64>,
    pub drop_name: bool,
}

/// A node's value at one evaluation time.
#[derive(Clone, Debug)]
pub enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "vector",
            Val::Matrix(_) => "matrix",
        }
    }
}
