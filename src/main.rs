//! `heimsight`: with no arguments, serve on the embedded default.

fn main() {
    println!("heimsight: not yet built");
}
