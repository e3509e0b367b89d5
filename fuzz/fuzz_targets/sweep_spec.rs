//! The sweep spec parser: any text is a sweep (its runs expanded) or an
//! error naming the key, never a panic or an unbounded expansion.
//!
//! A sweep of many runs builds each run's spec: an input whose `[sweep]`
//! asks for more than `MAX_EXPANDED` runs is left out, so the fuzzer
//! spends its time on new inputs rather than on the same expansion
//! repeated (the bound itself, `MAX_SWEEP_RUNS`, has a unit test:
//! `a_sweep_of_more_than_max_sweep_runs_is_refused_unexpanded`).
#![no_main]

use gradscope::experiment::sweep::SweepSpec;
use libfuzzer_sys::fuzz_target;
use toml::{Table, Value};

const MAX_EXPANDED: i64 = 64;

/// The runs `text`'s `[sweep]` table asks for, roughly (0 when it has none).
fn asked_runs(text: &str) -> i64 {
    let Ok(table) = text.parse::<Table>() else {
        return 0;
    };
    let Some(Value::Table(sweep)) = table.get("sweep") else {
        return 0;
    };
    let seeds = match sweep.get("seeds") {
        Some(Value::Integer(n)) => *n,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 1,
    };
    let Some(Value::Table(axes)) = sweep.get("axes") else {
        return seeds;
    };
    axes.values().fold(seeds, |n, v| {
        let len = match v {
            Value::Array(a) => a.len() as i64,
            Value::Table(t) => t.get("steps").and_then(Value::as_integer).unwrap_or(1),
            _ => 1,
        };
        n.saturating_mul(len.max(1))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if asked_runs(text) > MAX_EXPANDED {
        return;
    }
    if let Ok(sweep) = SweepSpec::from_toml(text, "fuzz.toml") {
        let _ = sweep.hash();
        let runs = sweep.runs().expect("a parsed sweep expands");
        let cells: usize = sweep.axes.iter().map(|a| a.values.len()).product();
        assert_eq!(runs.len(), sweep.seeds.len() * cells);
    }
});
