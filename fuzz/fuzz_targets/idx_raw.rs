//! The IDX reader on raw bytes: any input is an array or an error, never a
//! panic, and an array holds exactly what its header says.
#![no_main]

use gradscope::data::idx;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = idx::parse(data, Path::new("fuzz.idx")) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        assert_eq!(idx::encode(&a), data, "a raw array re-encodes to its bytes");
    }
});
