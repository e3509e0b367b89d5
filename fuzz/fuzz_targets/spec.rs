//! The run spec parser: any text is a spec or an error naming the field,
//! never a panic. A spec that parses serializes (`to_toml`, saved with
//! every run) and reads back from a store as the same spec.
#![no_main]

use gradscope::experiment::Spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Spec::from_stored_toml(text, "fuzz.toml");
    if let Ok(spec) = Spec::from_toml(text, "fuzz.toml") {
        let stored = spec.to_toml();
        let back = Spec::from_stored_toml(&stored, "stored").expect("a stored spec reads back");
        assert_eq!(back.to_toml(), stored);
        let _ = spec.to_toml_applicable();
    }
});
