//! A full disk under the store, for real: `gradscope train` with its store
//! on an 8 MB tmpfs. The write that fails stops the run at once with an
//! error that says so, the run is marked `failed` with the reason, the
//! steps committed before stay, and the exit code is 1. Mounting needs
//! root (CAP_SYS_ADMIN); where it is refused the test says it is skipped.
//! The same defect is also tested without root, through a store capped
//! in pages (`run::tests::a_full_disk_stops_the_run_at_once_and_marks_it_failed`).

mod support;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use gradscope::experiment::RunStatus;
use gradscope::store::Store;
use std::process::Command;
use std::time::{Duration, Instant};
use tmpfs::Tmpfs;

#[test]
fn a_full_disk_stops_the_run_at_once_and_marks_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let mount = match Tmpfs::mount(&disk, "8m") {
        Ok(mount) => mount,
        Err(reason) => return support::skip(&reason),
    };
    let db = disk.join("runs.db");
    let total = 5_000_000;
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .arg("--db")
        .arg(&db)
        .args(["train", "--data", "xor", "--depth", "1", "--width", "8"])
        .args(["--batch", "8", "--steps", &total.to_string(), "--quiet"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("database or disk is full"), "{stderr}");
    assert!(stderr.contains("the run stops here"), "{stderr}");
    // 5,000,000 steps would take well over a minute to train.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // Read a copy, off the full disk (opening writes to the store).
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(&disk).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    drop(mount);
    let store = Store::open(copy.join("runs.db")).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.steps > 0 && run.steps < total, "{} steps", run.steps);
    let record = store.load(run.id).unwrap();
    let error = record.error.as_deref().unwrap_or_default();
    assert!(error.contains("database or disk is full"), "{error}");
    assert_eq!(record.steps_done(), run.steps, "committed steps contiguous");
    assert!(
        stderr.contains(&format!("steps 0 to {} are kept", run.steps - 1)),
        "{stderr}"
    );
}
