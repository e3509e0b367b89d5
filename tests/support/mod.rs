//! Test support shared by the integration tests: the convention for a
//! test that cannot run on this machine (no Chromium, no canonical MNIST
//! files, no `script`). It must not pass silently: it calls
//! `return skip(reason);`, which writes `skipped: <test>: <reason>` to the
//! process's stderr directly, past the harness's output capture, so the
//! line appears in every `cargo test` output (`cargo test 2>&1 | grep -c
//! '^skipped:'` counts them; libtest's summary counts such a test as
//! passed). The library's unit tests follow the same convention
//! (`tensor::testing::skip`).

use std::io::Write;

/// Says that the calling test is skipped, and why.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    // Straight to the process's stderr: `eprintln!` would be captured by
    // the harness and shown only for a failing test.
    let _ = std::io::stderr().write_all(format!("skipped: {test}: {reason}\n").as_bytes());
}
