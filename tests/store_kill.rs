//! A training process killed mid-run (SIGKILL: no destructor, no flush)
//! leaves a database that passes `PRAGMA integrity_check`, whose run is
//! marked interrupted at the next open, with its committed steps readable
//! and contiguous from 0.
//!
//! The child is this test binary itself, re-run with `--exact` on the same
//! test and `GRADSCOPE_KILL_CHILD` set to the database path.

use gradscope::experiment::trainer::{train, Event, Sink};
use gradscope::experiment::{RunStatus, Spec, Tee};
use gradscope::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TEST: &str = "sigkill_mid_run_leaves_a_readable_interrupted_run";
const CHILD_ENV: &str = "GRADSCOPE_KILL_CHILD";

/// Slows training to about 1000 steps/s, so the child is surely mid-run
/// when killed and ends by itself within a minute if nobody kills it.
struct Throttle;

impl Sink for Throttle {
    fn event(&mut self, event: &Event<'_>) {
        if let Event::Step(_) = event {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn child(db: &Path) {
    let mut spec = Spec {
        name: "killed".into(),
        steps: 60_000,
        batch: 16,
        ..Spec::default()
    };
    spec.data.name = "spirals".into();
    spec.data.train_size = 128;
    spec.data.test_size = 64;
    spec.model.widths = vec![8; 2];
    spec.probe.histogram_every = 10;
    let data = spec.prepare_data().unwrap();
    let store = Store::open(db).unwrap();
    let mut writer = store.begin_run(&spec, spec.steps).unwrap();
    train(&spec, &data, &mut Tee(vec![&mut writer, &mut Throttle])).unwrap();
    writer.close().unwrap();
}

/// Steps committed so far (0 while the file or table is not there yet).
fn committed_steps(db: &Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM steps", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn sigkill_mid_run_leaves_a_readable_interrupted_run() {
    if let Some(db) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&db));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gradscope.db");
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while committed_steps(&db) < 20 {
        if let Some(status) = proc.try_wait().unwrap() {
            panic!("the child ended before it was killed: {status}");
        }
        if start.elapsed() > Duration::from_secs(20) {
            proc.kill().unwrap();
            panic!("the child committed fewer than 20 steps in 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    proc.kill().unwrap(); // SIGKILL on Unix
    proc.wait().unwrap(); // reap it, so its pid is gone

    let store = Store::open(&db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    let pid: i64 = conn
        .query_row("SELECT pid FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pid, proc.id() as i64, "the run records the child's pid");

    let record = store.load(runs[0].id).unwrap();
    let n = record.steps.len();
    assert!((20..60_000).contains(&n), "{n} steps committed");
    for (i, s) in record.steps.iter().enumerate() {
        assert_eq!(s.step, i, "committed steps are contiguous from 0");
    }
    // A batch may end between a step and its probe, never elsewhere.
    let probes = record.probes.len();
    assert!(probes == n || probes + 1 == n, "{probes} probes, {n} steps");
    for (i, p) in record.probes.iter().enumerate() {
        assert_eq!((p.step, p.layers.len()), (i, 3));
    }
    assert!(record.summary.is_none());
}
