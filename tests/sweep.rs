//! Sweeps end to end: the real binary runs a small sweep on two jobs and
//! records and classifies every run; a resumed sweep (after runs were
//! marked unfinished, or after the process was SIGKILLed) ends with the
//! same runs and the same figures as an uninterrupted one.

use assert_cmd::Command;
use gradscope::experiment::sweep::engine::{run_sweep, Shard};
use gradscope::experiment::sweep::SweepSpec;
use gradscope::store::Store;
use std::path::Path;
use std::time::{Duration, Instant};

/// depth 2/4 x tanh/relu x 2 seeds on xor: 8 runs of `steps` steps.
fn sweep_text(steps: usize) -> String {
    format!(
        r#"steps = {steps}
batch = 16

[data]
name = "xor"
train_size = 128
test_size = 64

[model]
width = 8

[sweep]
name = "tiny"
seeds = 2

[sweep.axes]
"model.depth" = [2, 4]
"model.activation" = ["tanh", "relu"]
"#
    )
}

/// `(name, cell, class, rule, held-out accuracy, held-out loss)` of every
/// run of the store's only sweep, by name: what two sweeps must agree on.
type Figures = Vec<(String, String, String, String, Option<f64>, Option<f64>)>;

fn figures(db: &Path) -> Figures {
    let store = Store::open(db).unwrap();
    let sweeps = store.sweeps().unwrap();
    assert_eq!(sweeps.len(), 1, "one sweep: {sweeps:?}");
    let mut rows: Figures = store
        .sweep_runs(sweeps[0].id)
        .unwrap()
        .into_iter()
        .map(|r| {
            let c = r
                .classification
                .unwrap_or_else(|| panic!("{} has no class", r.name));
            let class = c.class.name().to_string();
            (r.name, r.cell, class, c.rule, c.test_accuracy, c.test_loss)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn write_spec(dir: &Path, steps: usize) -> std::path::PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, sweep_text(steps)).unwrap();
    path
}

#[test]
fn the_binary_records_and_classifies_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), 30);
    let db = dir.path().join("s.db");
    let out = Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .args(["--db", "s.db", "sweep", "tiny.toml", "--jobs", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = figures(&db);
    assert_eq!(runs.len(), 8);
    assert!(runs
        .iter()
        .any(|r| r.0 == "tiny/depth=4,activation=relu,seed=1"
            && r.1 == r#"{"model.activation":"relu","model.depth":4}"#));
    assert!(runs
        .iter()
        .all(|r| r.4.is_some_and(|a| (0.0..=1.0).contains(&a))));
    let counted: usize = stdout
        .lines()
        .skip(1)
        .take(5)
        .map(|l| {
            l.split_whitespace()
                .last()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 8, "{stdout}");
    assert!(
        stdout.contains("depth=2,activation=tanh,seed=0"),
        "{stdout}"
    );
    // The command the sweep prints lists the same runs, in the same order.
    let printed = stdout.lines().last().unwrap();
    let command: Vec<&str> = printed.split('`').nth(1).unwrap().split(' ').collect();
    assert_eq!(command[1..], ["--db", "s.db", "runs", "--sweep", "1"]);
    let listed = Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .args(&command[1..])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.starts_with("sweep 1 `tiny`: 8 runs"), "{listed}");
    let table = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("finished"))
            .map(String::from)
            .collect()
    };
    assert_eq!(table(&listed).len(), 8);
    assert_eq!(table(&listed), table(&stdout));
    // Its report: the trainability map over the first two axes, every
    // run in the table; an axis the sweep lacks is refused by name.
    let report = |extra: &[&str]| {
        Command::cargo_bin("gradscope")
            .unwrap()
            .current_dir(dir.path())
            .args(["--db", "s.db", "report", "--sweep", "tiny"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = report(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.path().join("sweep-report.html")).unwrap();
    assert!(page.contains("id=\"fig-sweep-map\"") && page.contains("id=\"fig-sweep-parallel\""));
    assert!(page.contains("Trainability map: model.depth x model.activation"));
    // No sigma_w^2 axis, no theory curve.
    assert!(!page.contains("ξc"));
    assert_eq!(page.matches("<tr><td>").count(), 8);
    let out = report(&["--x", "model.width"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--x model.width: not an axis of sweep `tiny`"),
        "{err}"
    );
    drop(spec);
}

#[test]
fn a_sweep_with_unfinished_runs_resumes_to_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = SweepSpec::from_toml(&sweep_text(30), "tiny.toml").unwrap();
    let whole = dir.path().join("whole.db");
    run_sweep(&sweep, &whole, 2, Shard::ALL, &mut |_| {}).unwrap();
    let resumed = dir.path().join("resumed.db");
    run_sweep(&sweep, &resumed, 2, Shard::ALL, &mut |_| {}).unwrap();
    // Two runs killed mid-way, one ended without its class, one never began.
    let conn = rusqlite::Connection::open(&resumed).unwrap();
    conn.execute_batch(
        "UPDATE runs SET status = 'interrupted' WHERE id IN (1, 2);
         DELETE FROM classifications WHERE run_id IN (1, 2, 3);
         DELETE FROM runs WHERE id = 4;",
    )
    .unwrap();
    drop(conn);
    let again = run_sweep(&sweep, &resumed, 2, Shard::ALL, &mut |_| {}).unwrap();
    assert_eq!((again.ran, again.skipped), (4, 4));
    assert_eq!(again.runs.len(), 8, "one row per run");
    assert_eq!(figures(&resumed), figures(&whole));
    // A finished sweep resumes to nothing.
    let done = run_sweep(&sweep, &resumed, 2, Shard::ALL, &mut |_| {}).unwrap();
    assert_eq!((done.ran, done.skipped), (0, 8));
}

/// Read-only count of classified runs (0 while there is no table yet).
fn classified(db: &Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM classifications", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_sigkilled_sweep_resumes_to_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), 3000);
    let killed = dir.path().join("killed.db");
    let bin = assert_cmd::cargo::cargo_bin("gradscope");
    let mut child = std::process::Command::new(&bin)
        .arg("--db")
        .arg(&killed)
        .arg("sweep")
        .arg(&spec)
        .args(["--jobs", "2", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while classified(&killed) == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = classified(&killed);
    assert!((1..8).contains(&at_kill), "killed with {at_kill} runs done");
    let sweep = SweepSpec::load(&spec).unwrap();
    let resumed = run_sweep(&sweep, &killed, 2, Shard::ALL, &mut |_| {}).unwrap();
    assert_eq!(resumed.skipped as i64, at_kill);
    let whole = dir.path().join("whole.db");
    run_sweep(&sweep, &whole, 2, Shard::ALL, &mut |_| {}).unwrap();
    assert_eq!(figures(&killed), figures(&whole));
}

/// The ```toml block of docs/SPEC.md's "Sweep specs" section.
fn documented_sweep() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/SPEC.md")).unwrap();
    let section = &doc[doc.find("## Sweep specs").expect("a sweep section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + section[start..].find("```").expect("closed block");
    section[start..end].to_string()
}

#[test]
fn the_documented_sweep_parses_and_expands_as_documented() {
    let sweep = SweepSpec::from_toml(&documented_sweep(), "docs/SPEC.md").unwrap();
    let runs = sweep.runs().unwrap();
    assert_eq!(runs.len(), 36, "3 x 2 x 3 cells x 2 seeds");
    assert_eq!(
        runs[0].name,
        "depth-activation/depth=2,activation=tanh,lr=0.01,seed=0"
    );
    assert_eq!(runs[35].spec.model.widths.len(), 8);
    assert!((runs[35].spec.optimizer.lr - 1.0).abs() < 1e-12);
}

#[test]
fn a_bad_axis_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.toml");
    std::fs::write(&path, sweep_text(30).replace("[2, 4]", "[2, -4]")).unwrap();
    let out = Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .args(["sweep", "tiny.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tiny.toml:17: `sweep.axes.\"model.depth\"`: value -4"),
        "{stderr}"
    );
    assert!(!dir.path().join("gradscope.db").exists(), "nothing ran");
}

/// Rows in every table of the store: what a second merge must not change.
fn row_counts(db: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    [
        "sweeps",
        "runs",
        "steps",
        "evals",
        "layer_steps",
        "layer_series",
        "histograms",
        "findings",
        "classifications",
    ]
    .iter()
    .map(|t| {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    })
    .collect()
}

/// The emitted Slurm script passes `bash -n`; its task command, run by
/// hand with `SLURM_ARRAY_TASK_ID` set, runs each shard as a separate
/// process; its merge gives the figures of one unsharded sweep, and
/// merging again changes nothing.
#[test]
fn slurm_shards_merged_equal_one_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), 30);
    let out = Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .args(["--db", "merged.db", "sweep", "tiny.toml"])
        .args(["--emit", "slurm", "--tasks", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = dir.path().join("sweep.sh");
    std::fs::write(&script, &out.stdout).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("#SBATCH --array=0-2\n"), "{text}");
    let bash = |args: &[&str], task: Option<usize>| {
        let mut cmd = std::process::Command::new("bash");
        cmd.args(args).current_dir(dir.path());
        cmd.env_remove("SLURM_ARRAY_TASK_ID");
        if let Some(t) = task {
            cmd.env("SLURM_ARRAY_TASK_ID", t.to_string());
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    bash(&["-n", script.to_str().unwrap()], None);
    for task in 0..3 {
        bash(&[script.to_str().unwrap()], Some(task));
    }
    let shard = |i: usize| dir.path().join(format!("merged.shard-{i}.db"));
    assert_eq!(
        Store::open(shard(2)).unwrap().runs().unwrap().len(),
        2,
        "runs 2 and 5"
    );
    bash(&[script.to_str().unwrap(), "merge"], None);
    let merged = dir.path().join("merged.db");
    let whole = dir.path().join("whole.db");
    let sweep = SweepSpec::load(&spec).unwrap();
    run_sweep(&sweep, &whole, 2, Shard::ALL, &mut |_| {}).unwrap();
    assert_eq!(figures(&merged), figures(&whole));
    let counts = row_counts(&merged);
    bash(&[script.to_str().unwrap(), "merge"], None);
    assert_eq!(row_counts(&merged), counts, "merging twice changes nothing");
    assert_eq!(counts[..2], [1, 8]);
    assert_eq!(counts, row_counts(&whole), "every row of every run copied");
}

#[test]
fn a_shard_is_every_nth_run() {
    let sweep = SweepSpec::from_toml(&sweep_text(30), "tiny.toml").unwrap();
    let shard: Shard = "1/3".parse().unwrap();
    let names: Vec<String> = sweep
        .runs()
        .unwrap()
        .into_iter()
        .filter(|r| shard.contains(r.index))
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        [
            "tiny/depth=2,activation=tanh,seed=1",
            "tiny/depth=4,activation=tanh,seed=0",
            "tiny/depth=4,activation=relu,seed=1"
        ]
    );
    assert!("3/3".parse::<Shard>().is_err());
    assert!("1".parse::<Shard>().is_err());
}
