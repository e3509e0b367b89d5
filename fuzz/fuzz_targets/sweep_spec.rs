//! The sweep spec parser: any text is a sweep (its runs expanded) or an
//! error naming the key, never a panic or an unbounded expansion.
#![no_main]

use gradscope::experiment::sweep::SweepSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sweep) = SweepSpec::from_toml(text, "fuzz.toml") {
        let _ = sweep.hash();
        let runs = sweep.runs().expect("a parsed sweep expands");
        assert_eq!(runs.len(), sweep.seeds.len() * sweep.axes.iter().map(|a| a.values.len()).product::<usize>());
    }
});
