//! The small tree the grammar reader builds and the type checks walk, and the outcomes
//! of reading.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl Type {
    /// Prometheus' `ValueType` names.
    pub fn value_type(self) -> &'static str {
        match self {
            Type::Scalar => "scalar",
            Type::Vector => "vector",
            Type::Matrix => "matrix",
            Type::String => "string",
        }
    }

    /// Prometheus' `DocumentedType`.
    pub fn documented(self) -> &'static str {
        match self {
            Type::Scalar => "scalar",
            Type::Vector => "instant vector",
            Type::Matrix => "range vector",
            Type::String => "string",
        }
    }
}

/// An error found at a byte offset of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub pos: usize,
    pub message: String,
}

/// Why reading stopped: a diagnosed error, or a construct this reader does not model (the
/// caller then falls back to promql-parser's wording).
#[derive(Debug)]
pub enum Stop {
    Found(Problem),
    Unknown,
}

pub type Read<T> = Result<T, Stop>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
}

#[derive(Debug)]
pub enum Node {
    Number {
        pos: usize,
    },
    Str {
        pos: usize,
    },
    Selector {
        pos: usize,
        name: Option<String>,
        matchers: Vec<Matcher>,
        offset: bool,
        at: bool,
    },
    Matrix {
        pos: usize,
        offset: bool,
        at: bool,
    },
    Subquery {
        pos: usize,
        inner: Box<Node>,
        offset: bool,
        at: bool,
    },
    Paren {
        pos: usize,
        inner: Box<Node>,
    },
    Unary {
        pos: usize,
        inner: Box<Node>,
    },
    Binary(Box<Binary>),
    Call {
        pos: usize,
        name: String,
        args: Vec<Node>,
    },
    Aggregate {
        pos: usize,
        op: String,
        args: Vec<Node>,
    },
}

#[derive(Debug)]
pub struct Matcher {
    pub name: String,
    pub op: String,
    /// The unquoted value, when it had no escapes.
    pub value: Option<String>,
}

#[derive(Debug)]
pub struct Binary {
    pub op: String,
    pub op_pos: usize,
    pub return_bool: bool,
    pub has_matching_labels: bool,
    pub card: Card,
    pub lhs: Node,
    pub rhs: Node,
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Number { pos }
            | Node::Str { pos }
            | Node::Selector { pos, .. }
            | Node::Matrix { pos, .. }
            | Node::Subquery { pos, .. }
            | Node::Paren { pos, .. }
            | Node::Unary { pos, .. }
            | Node::Call { pos, .. }
            | Node::Aggregate { pos, .. } => *pos,
            Node::Binary(b) => b.lhs.pos(),
        }
    }
}
