//! The IDX reader through gzip: the input as a `.gz` file (a mutated gzip
//! stream: bad headers, bad checksums, bombs), and the input compressed
//! (every header the raw target tries, behind the streaming inflater).
#![no_main]

use flate2::write::GzEncoder;
use gradscope::data::idx;
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.idx.gz");
    if let Ok(a) = idx::parse(data, name) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        // Inflated once by the reader: compressed again it would not be IDX.
        return;
    }
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    let z = e.finish().unwrap();
    let raw = idx::parse(data, Path::new("fuzz.idx"));
    let gz = idx::parse(&z, name);
    // The same bytes give the same array, raw or compressed.
    assert_eq!(raw.ok(), gz.ok());
});
