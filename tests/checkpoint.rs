//! Checkpoints and resume: a run stopped at step k (the sink's stop
//! request, as Ctrl-C does; or SIGKILL of the real binary) and resumed from
//! its checkpoint goes on exactly as the uninterrupted run: the same loss
//! at every step, the same evaluations and probes, the same final
//! parameters, optimizer state and data order, bit for bit. Covered: an
//! MLP with BatchNorm and Adam, one with SGD momentum evaluating at the
//! checkpoint's step, an LSTM, a CNN with BatchNorm and crop+flip
//! augmentation. And `--init-from` with weights written by PyTorch.

use gradscope::checkpoint::{Checkpoint, CheckpointSaver, Checkpointing, Start};
use gradscope::data::{gather, Batches};
use gradscope::experiment::trainer::{train_with, Event, Sink};
use gradscope::experiment::{RunData, Spec};
use gradscope::tensor::{Compute, Matrix};
use std::path::Path;

/// Keeps every checkpoint in memory.
#[derive(Default)]
struct Keep(Vec<Checkpoint>);

impl CheckpointSaver for Keep {
    fn save(&mut self, c: &mut Checkpoint) -> gradscope::Result<()> {
        // Through the bytes, as a file would.
        self.0.push(Checkpoint::from_bytes(&c.to_bytes()?)?);
        Ok(())
    }
}

/// Every event's numbers as bits, and a stop request after `stop_after`
/// steps.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    stop_after: Option<usize>,
    steps: usize,
}

impl Sink for Log {
    fn event(&mut self, e: &Event<'_>) {
        let bits = |x: f64| format!("{:016x}", x.to_bits());
        match e {
            Event::Step(s) => {
                self.steps = s.step + 1;
                self.lines.push(format!(
                    "step {} {} {} {} {}",
                    s.step,
                    bits(s.loss),
                    bits(s.accuracy),
                    bits(s.lr),
                    bits(s.grad_norm)
                ));
            }
            Event::Probe(p) => {
                for l in &p.layers {
                    self.lines.push(format!(
                        "probe {} {} {} {} {}",
                        p.step,
                        l.layer,
                        bits(l.weight_grad.sum_sq),
                        bits(l.pre.sum),
                        bits(l.update_ratio)
                    ));
                }
            }
            Event::Eval(r) => self.lines.push(format!(
                "eval {} {} {}",
                r.step,
                bits(r.train_loss),
                bits(r.test_loss)
            )),
            _ => {}
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop_after.is_some_and(|k| self.steps >= k)
    }
}

/// Trains `spec` in a pool of two threads, checkpointing every `every`
/// steps, stopping after `stop` steps if given, from `start`.
fn run(
    spec: &Spec,
    data: &RunData,
    every: usize,
    stop: Option<usize>,
    start: Start<'_>,
) -> (Log, Keep) {
    let (mut log, mut keep) = (
        Log {
            stop_after: stop,
            ..Log::default()
        },
        Keep::default(),
    );
    let checkpoints = Checkpointing {
        every,
        saver: Some(&mut keep),
        start,
    };
    let result = Compute::threads(2).install(|| train_with(spec, data, &mut log, checkpoints));
    match stop {
        Some(k) => assert!(
            matches!(result, Err(gradscope::Error::Stopped { steps, .. }) if steps == k),
            "{:?}",
            result.err()
        ),
        None => {
            result.unwrap();
        }
    }
    (log, keep)
}

/// The checkpoint without what may differ between two runs of the same
/// steps (the seconds spent).
fn comparable(c: &Checkpoint) -> Checkpoint {
    let mut c = c.clone();
    c.metadata.remove("train_seconds");
    c
}

/// Runs `spec` for its steps uninterrupted, and stopped after `stop`
/// steps then resumed from the checkpoint taken at the stop: the events
/// after the stop and the final checkpoint are the same, bit for bit.
fn resumes_bit_for_bit(toml: &str, stop: usize, every: usize) {
    let spec = Spec::from_toml(toml, "test").unwrap();
    let data = spec.prepare_data().unwrap();
    let (whole, whole_ckpts) = run(&spec, &data, every, None, Start::Fresh);
    let (first, first_ckpts) = run(&spec, &data, every, Some(stop), Start::Fresh);
    let at_stop = first_ckpts.0.last().unwrap();
    assert_eq!(at_stop.metadata["step"], stop.to_string());
    let (rest, rest_ckpts) = run(&spec, &data, every, None, Start::Resume(at_stop));
    // The stopped run's events, then the resumed run's, are the whole run's
    // (the resumed run evaluates again at the stop when the spec says to).
    let eval_at_stop = format!("eval {stop} ");
    let mut joined = first.lines.clone();
    joined.extend(
        rest.lines
            .iter()
            .filter(|l| !(l.starts_with(&eval_at_stop) && first.lines.contains(l)))
            .cloned(),
    );
    assert_eq!(joined.len(), whole.lines.len());
    for (i, (a, b)) in whole.lines.iter().zip(&joined).enumerate() {
        assert_eq!(a, b, "event {i} differs");
    }
    let last = |k: &Keep| comparable(k.0.last().unwrap());
    assert_eq!(last(&whole_ckpts), last(&rest_ckpts), "final state differs");
    // Checkpoints on the cadence, at the stop and at the end.
    let steps =
        |k: &Keep| -> Vec<String> { k.0.iter().map(|c| c.metadata["step"].clone()).collect() };
    let mut want: Vec<String> = (1..=stop / every)
        .map(|k| (k * every).to_string())
        .collect();
    if !stop.is_multiple_of(every) {
        want.push(stop.to_string());
    }
    assert_eq!(steps(&first_ckpts), want);
    assert_eq!(steps(&rest_ckpts).last(), Some(&spec.steps.to_string()));
}

#[test]
fn an_mlp_with_batch_norm_and_adam_resumes_bit_for_bit() {
    resumes_bit_for_bit(
        "steps = 60\nbatch = 32\n[data]\nname = \"spirals\"\ntrain_size = 200\ntest_size = 64\n\
         [model]\ndepth = 3\nwidth = 24\nnorm = \"batch\"\n[optimizer]\nname = \"adam\"\nlr = 0.01\n\
         [probe]\nevery = 3\nhistogram_every = 10\n",
        25,
        10,
    );
}

#[test]
fn an_mlp_with_momentum_evaluating_at_the_stop_resumes_bit_for_bit() {
    resumes_bit_for_bit(
        "steps = 50\nbatch = 16\neval_every = 10\n[data]\nname = \"xor\"\ntrain_size = 100\ntest_size = 50\n\
         [model]\ndepth = 2\nwidth = 16\n[optimizer]\nname = \"nesterov\"\nlr = 0.05\n\
         [schedule]\nname = \"cosine\"\ntotal_steps = 50\n",
        20,
        20,
    );
}

#[test]
fn an_lstm_resumes_bit_for_bit() {
    resumes_bit_for_bit(
        "steps = 24\nbatch = 16\nseed = 1\n[data]\nname = \"adding\"\nlength = 20\ntrain_size = 128\ntest_size = 32\n\
         [model]\nkind = \"lstm\"\nhidden = 16\n[optimizer]\nname = \"adam\"\nlr = 0.003\n",
        9,
        4,
    );
}

#[test]
fn a_cnn_with_batch_norm_and_augmentation_resumes_bit_for_bit() {
    resumes_bit_for_bit(
        "steps = 12\nbatch = 8\neval_train_size = 32\n[data]\nname = \"mnist\"\ntrain_size = 64\ntest_size = 16\naugment = \"crop+flip\"\n\
         [model]\nkind = \"cnn\"\nchannels = [4, 8]\nn = 1\nnorm = \"batch\"\n\
         [optimizer]\nname = \"momentum\"\nlr = 0.05\n[probe]\nevery = 2\n",
        5,
        5,
    );
}

#[test]
fn a_checkpoint_of_another_spec_is_refused() {
    let toml = "steps = 10\nbatch = 8\n[data]\nname = \"xor\"\ntrain_size = 64\ntest_size = 16\n[model]\ndepth = 1\nwidth = 4\n";
    let spec = Spec::from_toml(toml, "test").unwrap();
    let data = spec.prepare_data().unwrap();
    let (_, keep) = run(&spec, &data, 5, None, Start::Fresh);
    let other = Spec::from_toml(&toml.replace("steps = 10", "steps = 11"), "test").unwrap();
    let e = train_with(
        &other,
        &data,
        &mut Log::default(),
        Checkpointing {
            start: Start::Resume(&keep.0[0]),
            ..Checkpointing::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("another spec"), "{e}");
}

/// The default MLP's layers (width 16 to keep the file small) with
/// weights written by PyTorch (scripts/torch_init_from.py): a run started
/// from them takes its first step with them (its loss is theirs on the
/// first batch), and they give PyTorch's loss on the script's batch.
#[test]
fn weights_written_by_pytorch_load_and_give_pytorchs_loss() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch");
    let weights = Checkpoint::read(&dir.join("init_mlp.safetensors")).unwrap();
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("init_mlp.json")).unwrap()).unwrap();
    let spec = Spec::from_toml(reference["spec"].as_str().unwrap(), "init_mlp.json").unwrap();
    let data = spec.prepare_data().unwrap();
    // Through the trainer: its first step's loss is the loss of the
    // file's weights on the first batch.
    let (log, _) = run(&spec, &data, 0, None, Start::Weights(&weights));
    let RunData::Rows(rows) = &data else {
        panic!("rows")
    };
    let first = Batches::new(rows.train.len(), spec.batch, spec.seed)
        .next_indices()
        .to_vec();
    let (mut x, mut y) = (Matrix::<f32>::default(), Vec::new());
    gather(&rows.train, &first, &mut x, &mut y);
    let loss =
        Compute::threads(2).install(|| gradscope_loss(&spec, &data, &weights, x.as_slice(), &y));
    let step0 = log.lines[0].split(' ').nth(2).unwrap().to_string();
    assert_eq!(
        step0,
        format!("{:016x}", loss.to_bits()),
        "{}",
        log.lines[0]
    );
    // PyTorch's loss on the fixture's batch, through our model.
    // The script's batch: x[i][j] = ((31 i + 7 j) mod 97) / 97.
    let x: Vec<f32> = (0..4)
        .flat_map(|i| (0..784).map(move |j| ((31 * i + 7 * j) % 97) as f32 / 97.0))
        .collect();
    let y: Vec<usize> = serde_json::from_value(reference["y"].clone()).unwrap();
    let loss = gradscope_loss(&spec, &data, &weights, &x, &y);
    let want = reference["loss"].as_f64().unwrap();
    assert!(
        (loss - want).abs() <= 1e-5 * want.abs(),
        "{loss} vs PyTorch {want}"
    );
}

/// The cross-entropy of `spec`'s model with `weights` on the batch `x`, `y`.
fn gradscope_loss(
    spec: &Spec,
    data: &RunData,
    weights: &Checkpoint,
    x: &[f32],
    y: &[usize],
) -> f64 {
    use gradscope::nn::{Loss, Mlp, Mode, Targets};
    let RunData::Rows(rows) = data else {
        panic!("rows")
    };
    let mut mlp: Mlp<f32> = spec
        .model_config(rows.train.dim(), rows.train.classes)
        .build(spec.seed)
        .unwrap();
    for p in mlp.params() {
        let (r, c) = p.param.value.shape();
        p.param.value = weights.tensors[&p.path].to_matrix(r, c, true).unwrap();
    }
    let x = Matrix::from_vec(y.len(), x.len() / y.len(), x.to_vec()).unwrap();
    let out = mlp.forward(&x, Mode::Train);
    Loss::CrossEntropy.compute(out, Targets::Classes(y), &mut Matrix::default())
}

/// `gradscope train --checkpoint-every` killed with SIGKILL mid-run, then
/// `train --resume`: the store holds the same steps as an uninterrupted
/// run's, bit for bit, under the killed run's id.
#[test]
fn a_sigkilled_train_resumes_to_the_uninterrupted_runs_steps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let bin = assert_cmd::cargo::cargo_bin("gradscope");
    let args = [
        "train",
        "--data",
        "spirals",
        "--steps",
        "20000",
        "--depth",
        "2",
        "--width",
        "16",
        "--optimizer",
        "adam",
        "--threads",
        "1",
        "-q",
    ];
    let mut child = std::process::Command::new(&bin)
        .arg("--db")
        .arg(&db)
        .args(args)
        .args(["--checkpoint-every", "50"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpts = dir.path().join("g.checkpoints/run-1");
    let t0 = std::time::Instant::now();
    let covered = || {
        let Ok(conn) =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return false;
        };
        let n: i64 = conn
            .query_row("SELECT count(*) FROM steps", [], |r| r.get(0))
            .unwrap_or(0);
        gradscope::checkpoint::pick(&ckpts, n as usize).is_ok_and(|(step, _)| step >= 100)
    };
    while !covered() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        assert!(t0.elapsed().as_secs() < 60, "no checkpoint within a minute");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let gs = |extra: &[&str]| {
        let out = std::process::Command::new(&bin)
            .arg("--db")
            .arg(&db)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = gs(&["train", "--resume", "1", "-q"]);
    assert!(said.contains("resuming run 1 after step"), "{said}");
    gs(&args);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let steps = |id: i64| -> Vec<(i64, u64, u64)> {
        let mut stmt = conn
            .prepare("SELECT step, loss, grad_norm FROM steps WHERE run_id = ?1 ORDER BY step")
            .unwrap();
        stmt.query_map([id], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, f64>(1)?.to_bits(),
                r.get::<_, f64>(2)?.to_bits(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let (resumed, whole) = (steps(1), steps(2));
    assert_eq!(resumed.len(), 20000);
    assert!(
        resumed == whole,
        "the resumed run's steps differ from the uninterrupted run's"
    );
    let status: String = conn
        .query_row("SELECT status FROM runs WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "finished");
}
