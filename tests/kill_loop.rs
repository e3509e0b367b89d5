//! The kill loop (issue 18): `gradscope train` SIGKILLed at 20 points
//! drawn from a seeded generator, one store for all of them, then a sweep
//! killed at a few points and resumed to completion in the same store.
//!
//! The points are chosen by what the child has done, as the store shows
//! it, or by time: a delay after spawn (process start and store creation),
//! a delay anywhere in a whole run, the moment the run's row appears
//! (store creation done, no step committed), after a random number of
//! committed steps or evaluations, and once every step is committed (the
//! final write: the run's status, summary and findings). The writer
//! commits every 200 ms, so a run of about a second crosses several
//! commits. After each kill:
//!
//! - the store opens (`Store::open`, which marks runs of dead processes
//!   `interrupted`) and passes `PRAGMA integrity_check`;
//! - every run that finished in an earlier iteration is intact: finished,
//!   the same number of steps and the same last loss;
//! - the killed run, if it began, is `interrupted` (or `finished`, when the
//!   kill came after its last write), its committed steps are 0..n with no
//!   gap, and its probes and evaluations come after committed steps only;
//! - no run is left `running`.
//!
//! Which phase each kill hit is printed (`--nocapture`); docs/RELIABILITY.md
//! ("Kill loop") has a run of it.

use gradscope::experiment::{RunRecord, RunStatus};
use gradscope::store::Store;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The generator's seed: the same points every time.
const SEED: u64 = 18;
/// Kills of `train`.
const KILLS: usize = 20;
/// Steps of each run: about a second on a busy core, several commits.
const STEPS: usize = 4000;
/// An evaluation every this many steps.
const EVAL_EVERY: usize = 250;
/// A child still alive after this is a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// Where to kill the child.
#[derive(Clone, Copy, Debug)]
enum Point {
    /// This long after spawn.
    After(Duration),
    /// As soon as its run's row is in the store.
    RunRow,
    /// Once at least this many of its steps are committed.
    Steps(usize),
    /// Once at least this many of its evaluations are committed.
    Evals(usize),
    /// Once all its steps are committed (during the final write).
    AllSteps,
    /// Sweeps: once at least this many runs are classified.
    Classified(usize),
}

/// What the store shows of the runs begun after `after` (by id).
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    runs: usize,
    steps: usize,
    evals: usize,
    classified: usize,
}

/// A read-only view of the store for polling (it changes nothing, and
/// waits for nothing).
struct Watch {
    db: PathBuf,
    conn: Option<Connection>,
}

impl Watch {
    fn new(db: &Path) -> Watch {
        Watch {
            db: db.to_path_buf(),
            conn: None,
        }
    }

    fn progress(&mut self, after: i64) -> Progress {
        if self.conn.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            self.conn = Connection::open_with_flags(&self.db, flags).ok();
        }
        let Some(conn) = &self.conn else {
            return Progress::default();
        };
        let count = |sql: &str| -> usize {
            conn.query_row(sql, [after], |r| r.get::<_, i64>(0))
                .map_or(0, |n| n as usize)
        };
        Progress {
            runs: count("SELECT count(*) FROM runs WHERE id > ?1"),
            steps: count("SELECT count(*) FROM steps WHERE run_id > ?1"),
            evals: count("SELECT count(*) FROM evals WHERE run_id > ?1"),
            classified: count("SELECT count(*) FROM classifications WHERE run_id > ?1"),
        }
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gradscope"))
}

fn train(db: &Path, name: &str) -> Child {
    Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(["train", "--quiet", "--threads", "1", "--data", "xor"])
        .args(["--name", name, "--steps", &STEPS.to_string()])
        .args(["--batch", "16", "--eval-every", &EVAL_EVERY.to_string()])
        .args(["--set", "data.train_size=128", "--set", "data.test_size=64"])
        .args([
            "--set",
            "probe.every=5",
            "--set",
            "probe.histogram_every=500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills `child` at `point` (or lets it end first); returns whether it was
/// still running when killed.
fn kill_at(mut child: Child, point: Point, db: &Path, after: i64) -> bool {
    let start = Instant::now();
    let mut watch = Watch::new(db);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(start.elapsed() < DEADLINE, "the child hangs at {point:?}");
        let due = match point {
            Point::After(d) => start.elapsed() >= d,
            _ => {
                let p = watch.progress(after);
                match point {
                    Point::RunRow => p.runs > 0,
                    Point::Steps(n) => p.steps >= n,
                    Point::Evals(n) => p.evals >= n,
                    Point::AllSteps => p.steps >= STEPS,
                    Point::Classified(n) => p.classified >= n,
                    Point::After(_) => unreachable!(),
                }
            }
        };
        if due {
            break;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap(); // reaped: its pid is gone
    true
}

/// A finished run as it was when it finished.
#[derive(Clone, Debug, PartialEq)]
struct Finished {
    steps: usize,
    last_loss: f64,
}

fn finished(record: &RunRecord) -> Finished {
    Finished {
        steps: record.steps.len(),
        last_loss: record.steps.last().map_or(f64::NAN, |s| s.loss),
    }
}

/// Opens the store as the next command would, and checks the database
/// itself.
fn open_checked(db: &Path) -> Store {
    let store = Store::open(db).unwrap_or_else(|e| panic!("the store does not open: {e}"));
    let conn = Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "integrity_check");
    store
}

/// Every run in `kept` is still finished with the same steps and loss, and
/// no run is left `running`.
fn check_kept(store: &Store, kept: &BTreeMap<i64, Finished>, when: &str) {
    for (&id, before) in kept {
        let record = store.load(id).unwrap();
        assert_eq!(record.status, RunStatus::Finished, "run {id}, {when}");
        assert_eq!(&finished(&record), before, "run {id} changed, {when}");
    }
    for row in store.runs().unwrap() {
        assert_ne!(row.status, RunStatus::Running, "run {} {when}", row.id);
    }
}

/// A killed run: committed steps 0..n, probes at those steps, evaluations
/// after them.
fn check_killed(record: &RunRecord, when: &str) {
    for (i, s) in record.steps.iter().enumerate() {
        assert_eq!(s.step, i, "a gap in the committed steps, {when}");
    }
    let steps: BTreeSet<usize> = record.steps.iter().map(|s| s.step).collect();
    for p in &record.probes {
        assert!(steps.contains(&p.step), "probe at step {} {when}", p.step);
    }
    for e in &record.evals {
        // The evaluation after `n` steps is labelled `n`.
        let n = record.steps.len();
        assert!(
            e.step <= n,
            "eval after {} steps, {n} committed, {when}",
            e.step
        );
    }
}

/// What a kill hit, from what it left in the store.
fn phase(record: Option<&RunRecord>) -> String {
    match record {
        None => "process start (no run yet)".into(),
        Some(r) if r.status == RunStatus::Finished => "after the final write".into(),
        Some(r) if r.steps.is_empty() => "store created, no step committed".into(),
        Some(r) if r.steps.len() == r.total_steps => "final write (all steps committed)".into(),
        Some(r) => format!(
            "training: {} of {} steps, {} evaluations committed",
            r.steps.len(),
            r.total_steps,
            r.evals.len()
        ),
    }
}

fn last_id(store: &Store) -> i64 {
    store.runs().unwrap().last().map_or(0, |r| r.id)
}

/// The 20 points: each kind of point in turn, then shuffled.
fn train_points(rng: &mut ChaCha8Rng, whole_run: Duration) -> Vec<Point> {
    let evals = STEPS / EVAL_EVERY;
    let mut points: Vec<Point> = (0..KILLS)
        .map(|i| match i % 6 {
            0 => Point::After(Duration::from_millis(rng.gen_range(0..40))),
            1 => Point::After(whole_run.mul_f64(rng.gen_range(0.0..1.1))),
            2 => Point::RunRow,
            3 => Point::Steps(rng.gen_range(1..STEPS)),
            4 => Point::Evals(rng.gen_range(1..evals)),
            _ => Point::AllSteps,
        })
        .collect();
    points.shuffle(rng);
    points
}

/// Kills `train` at 20 points; returns the runs that finished.
fn train_loop(db: &Path, rng: &mut ChaCha8Rng) -> BTreeMap<i64, Finished> {
    // One whole run first: a finished run to keep, and the time one takes.
    let start = Instant::now();
    assert!(train(db, "whole").wait().unwrap().success());
    let whole_run = start.elapsed();
    let mut kept = BTreeMap::new();
    let store = open_checked(db);
    let id = last_id(&store);
    kept.insert(id, finished(&store.load(id).unwrap()));
    drop(store);

    for (i, point) in train_points(rng, whole_run).into_iter().enumerate() {
        let after = last_id(&Store::open(db).unwrap());
        let name = format!("kill-{i}");
        let killed = kill_at(train(db, &name), point, db, after);
        let when = format!("after kill {i} at {point:?}");
        let store = open_checked(db);
        check_kept(&store, &kept, &when);
        let new: Vec<_> = store
            .runs()
            .unwrap()
            .into_iter()
            .filter(|r| r.id > after)
            .collect();
        assert!(new.len() <= 1, "{} new runs {when}", new.len());
        let record = new.first().map(|r| store.load(r.id).unwrap());
        eprintln!(
            "kill {i:2} at {point:?}: {}{}",
            phase(record.as_ref()),
            if killed {
                ""
            } else {
                " (ended before the kill)"
            }
        );
        let Some(record) = record else { continue };
        check_killed(&record, &when);
        match record.status {
            RunStatus::Finished => {
                assert_eq!(record.steps.len(), STEPS, "{when}");
                kept.insert(record.id.unwrap(), finished(&record));
            }
            RunStatus::Interrupted => assert!(killed, "{when}"),
            other => panic!("the killed run is {other:?} {when}"),
        }
    }
    kept
}

/// depth 2/3 on xor, 2 seeds: 4 runs.
fn write_sweep(dir: &Path) -> PathBuf {
    let text = format!(
        "steps = {STEPS}\nbatch = 16\neval_every = {EVAL_EVERY}\n\
         [data]\nname = \"xor\"\ntrain_size = 128\ntest_size = 64\n\
         [model]\nwidth = 8\n[probe]\nevery = 5\nhistogram_every = 500\n\
         [sweep]\nname = \"killed\"\nseeds = 2\n\
         [sweep.axes]\n\"model.depth\" = [2, 3]\n"
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn sweep(db: &Path, spec: &Path) -> Child {
    Command::new(bin())
        .arg("--db")
        .arg(db)
        .arg("sweep")
        .arg(spec)
        .args(["--jobs", "2", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The sweep's classified runs, and checks of the others.
fn sweep_state(store: &Store, when: &str) -> BTreeMap<i64, Finished> {
    let mut classified = BTreeMap::new();
    let Some(sweep) = store.sweeps().unwrap().into_iter().next() else {
        return classified;
    };
    for row in store.sweep_runs(sweep.id).unwrap() {
        let record = store.load(row.id).unwrap();
        check_killed(&record, when);
        if row.classification.is_some() {
            assert!(
                matches!(row.status, RunStatus::Finished | RunStatus::Diverged),
                "{} is {:?} with a class {when}",
                row.name,
                row.status
            );
            classified.insert(row.id, finished(&record));
        } else {
            assert!(
                matches!(row.status, RunStatus::Interrupted | RunStatus::Finished),
                "{} is {:?} {when}",
                row.name,
                row.status
            );
        }
    }
    classified
}

/// Kills `sweep` at a few points, resuming it each time, then lets it end:
/// every run classified once, and the train loop's runs untouched.
fn sweep_loop(db: &Path, dir: &Path, rng: &mut ChaCha8Rng, kept: &BTreeMap<i64, Finished>) {
    let spec = write_sweep(dir);
    let after = last_id(&Store::open(db).unwrap());
    let points = [
        Point::After(Duration::from_millis(rng.gen_range(0..40))),
        Point::RunRow,
        Point::Steps(rng.gen_range(1..2 * STEPS)),
        Point::Classified(1),
        Point::Classified(3),
    ];
    let mut classified = BTreeMap::new();
    for (i, point) in points.into_iter().enumerate() {
        let killed = kill_at(sweep(db, &spec), point, db, after);
        let when = format!("after sweep kill {i} at {point:?}");
        let store = open_checked(db);
        check_kept(&store, kept, &when);
        let now = sweep_state(&store, &when);
        // A resumed sweep keeps what it had classified.
        for (id, before) in &classified {
            assert_eq!(now.get(id), Some(before), "run {id} {when}");
        }
        eprintln!(
            "sweep kill {i} at {point:?}: {} of 4 runs classified{}",
            now.len(),
            if killed {
                ""
            } else {
                " (ended before the kill)"
            }
        );
        classified = now;
    }
    assert!(
        sweep(db, &spec).wait().unwrap().success(),
        "the last resume"
    );
    let store = open_checked(db);
    check_kept(&store, kept, "after the sweep");
    let done = sweep_state(&store, "after the sweep");
    let sweeps = store.sweeps().unwrap();
    assert_eq!(sweeps.len(), 1);
    let rows = store.sweep_runs(sweeps[0].id).unwrap();
    assert_eq!(rows.len(), 4, "one row per run of the sweep: {rows:?}");
    assert_eq!(done.len(), 4, "every run classified");
    for (id, before) in &classified {
        assert_eq!(done.get(id), Some(before), "run {id} after the sweep");
    }
}

#[test]
fn sigkill_at_twenty_points_leaves_every_run_readable_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gradscope.db");
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let kept = train_loop(&db, &mut rng);
    sweep_loop(&db, dir.path(), &mut rng, &kept);
}
