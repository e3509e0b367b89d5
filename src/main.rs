//! The `gradscope` binary: a thin layer over the library's `cli` module.
fn main() {}
