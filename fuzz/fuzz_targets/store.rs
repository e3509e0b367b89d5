//! The store reader on a mutated database file: the input is written to a
//! file, opened with `Store::open`, its runs listed and every run loaded
//! with its findings. Each step may fail with an error; none may panic or
//! hang.
#![no_main]

use gradscope::store::Store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // On tmpfs where there is one: a store open is a few file syscalls.
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let path = dir.path().join("fuzz.db");
    std::fs::write(&path, data).unwrap();
    let Ok(store) = Store::open(&path) else {
        return;
    };
    let Ok(runs) = store.runs() else {
        return;
    };
    for run in runs {
        let _ = store.load(run.id);
        let _ = store.findings(run.id);
    }
    let _ = store.sweeps();
});
