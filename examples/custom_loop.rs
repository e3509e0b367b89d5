//! A training loop of your own, probed and diagnosed by gradscope.
//!
//! The loop below is the user's, not the library's trainer: it draws the
//! batches, runs forward and backward through an [`Mlp`] built from a
//! [`ModelConfig`], and updates the weights by a hand-written SGD rule.
//! gradscope only watches: a [`Prober`] arms the layers' taps before
//! forward and gathers what they measured after backward, and every step
//! and probe goes as an [`Event`] to two sinks at once ([`Tee`]): a
//! [`RecordSink`] (the run in memory) and a [`RunWriter`] (the run in a
//! store, here a temporary one). Diagnosis then reads the record.
//!
//! The net is a 12-layer sigmoid MLP with Glorot & Bengio's "standard"
//! init on the XOR points: its gradient vanishes with depth, and the
//! findings say so, with remedies.
//!
//! Run it: `cargo run --release --example custom_loop`
//! (`-- STORE` keeps the store at that path, to read with
//! `gradscope runs --db STORE` or `--example read_store`).

use gradscope::data::{gather, prepare, Batches, Dataset};
use gradscope::experiment::trainer::{accuracy, evaluate, EvalRecord};
use gradscope::prelude::*;
use gradscope::tensor::Init;
use std::path::Path;
use std::time::Instant;

/// Steps the loop runs.
pub const STEPS: usize = 300;
/// Examples per step.
const BATCH: usize = 32;
/// The hand-written update's learning rate.
const LR: f64 = 0.1;

/// What the loop left behind.
pub struct Ran {
    /// Everything the sinks received, in memory.
    pub record: RunRecord,
    /// The run's id in the store.
    pub run_id: i64,
    /// What diagnosis says about it.
    pub findings: Vec<Finding>,
}

/// The spec that *describes* the run. The loop is ours, but a record
/// (and a stored run) carries a spec: it says what was trained, and the
/// remedies' `gradscope train` commands start from it.
pub fn spec() -> Spec {
    let mut spec = Spec {
        name: "custom-loop-sigmoid-12".into(),
        seed: 3,
        steps: STEPS,
        batch: BATCH,
        probe: ProbeConfig::every_step(),
        ..Spec::default()
    };
    spec.data.name = "xor".into();
    (spec.data.train_size, spec.data.test_size) = (512, 256);
    spec.model = ModelConfig::new(0, 0)
        .depth(12, 32)
        .activation(Activation::Sigmoid)
        .init(Init::Standard);
    spec.optimizer.lr = LR;
    spec
}

/// Trains with our own loop, recording into the store at `db`.
pub fn run(db: &Path) -> Result<Ran> {
    let spec = spec();
    let data = prepare(&spec.data, spec.seed)?;
    let (train, test) = (&data.train, &data.test);
    let mut mlp: Mlp<f32> = spec
        .model
        .clone()
        .sized(train.dim(), train.classes)
        .build(spec.seed)?;

    let store = Store::open(db)?;
    let mut writer = store.begin_run(&spec, STEPS)?;
    let mut memory = RecordSink::new(spec.clone());
    {
        let mut sinks = Tee(vec![&mut memory, &mut writer]);
        train_loop(&spec, &mut mlp, train, test, &mut sinks);
    }
    let run_id = writer.close()?;
    let mut record = memory.record;
    record.id = Some(run_id);
    let findings = diagnose(&record);
    store.save_findings(run_id, &findings)?;
    Ok(Ran {
        record,
        run_id,
        findings,
    })
}

/// The loop itself: every step's row and probe to `sink`, then an
/// evaluation and the summary.
fn train_loop(spec: &Spec, mlp: &mut Mlp<f32>, train: &Dataset, test: &Dataset, sink: &mut Tee) {
    let params = mlp.num_params();
    sink.event(&Event::Started {
        spec,
        total_steps: STEPS,
        params,
    });
    let mut prober = Prober::<f32>::new(spec.probe).with_total(STEPS);
    let mut batches = Batches::new(train.len(), BATCH, spec.seed);
    let (mut x, mut labels, mut grad) = (Matrix::default(), Vec::new(), Matrix::default());
    let started = Instant::now();
    for step in 0..STEPS {
        gather(train, batches.next_indices(), &mut x, &mut labels);

        // Forward and backward, the layers' taps armed for this step (on
        // every step here: `ProbeConfig::every_step`; the default cadence
        // probes sparser as a run grows).
        prober.arm(step, mlp.blocks_mut());
        let probed = prober.tap_at(step).is_on();
        let logits = mlp.forward(&x, Mode::Train);
        let loss = Loss::CrossEntropy.compute(logits, Targets::Classes(&labels), &mut grad);
        let batch_accuracy = accuracy(logits, &labels);
        mlp.backward_overwrite(&x, &grad);
        // What the taps measured, gradients before any clipping.
        let mut probe = probed.then(|| prober.observe(step, &mlp.blocks()));

        // Our own update: w <- w - lr * dL/dw, parameter by parameter.
        let grad_norm = global_grad_norm(&mlp.params());
        prober.note(step, grad_norm);
        for p in mlp.params() {
            let Param { value, grad } = p.param;
            for (w, g) in value.as_mut_slice().iter_mut().zip(grad.as_slice()) {
                *w -= LR as f32 * g;
            }
        }
        if let Some(probe) = &mut probe {
            // Update:data ratios, against the weights `observe` sampled.
            prober.finish(&mlp.blocks(), probe);
        }

        sink.event(&Event::Step(&StepRecord {
            step,
            loss,
            accuracy: batch_accuracy,
            lr: LR,
            grad_norm,
        }));
        if let Some(probe) = &probe {
            sink.event(&Event::Probe(probe));
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let grad_norms = mlp.weight_grad_norms();
    let on = |data: &Dataset, mlp: &mut Mlp<f32>| {
        evaluate(mlp, Loss::CrossEntropy, data, data.len(), 256)
    };
    let (train_fit, test_fit) = (on(train, mlp), on(test, mlp));
    let eval = EvalRecord {
        step: STEPS,
        train_loss: train_fit.0,
        train_accuracy: train_fit.1,
        test_loss: test_fit.0,
        test_accuracy: test_fit.1,
    };
    sink.event(&Event::Eval(&eval));
    sink.event(&Event::Finished(&Summary {
        steps: STEPS,
        train_loss: eval.train_loss,
        train_accuracy: eval.train_accuracy,
        test_loss: eval.test_loss,
        test_accuracy: eval.test_accuracy,
        grad_norms,
        layers: mlp.layer_paths(),
        train_seconds,
        sample: None,
    }));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kept = std::env::args().nth(1);
    let dir = tempfile::tempdir()?;
    let db = kept.map_or_else(|| dir.path().join("runs.db"), Into::into);
    let ran = run(&db)?;
    let record = &ran.record;

    println!("run {} in {}", ran.run_id, db.display());
    for s in record.steps.iter().step_by(STEPS / 6) {
        println!(
            "step {:>4}  loss {:.4}  |grad| {:.3e}",
            s.step, s.loss, s.grad_norm
        );
    }
    if let Some(eval) = record.evals.last() {
        println!("held-out accuracy {:.3}", eval.test_accuracy);
    }
    println!("\n|dL/dW| per layer at the last step:");
    if let Some(last) = record.probes.last() {
        for layer in &last.layers {
            println!("  {:<10} {:.3e}", layer.path, layer.weight_grad.l2());
        }
    }
    println!("\nfindings:");
    for f in &ran.findings {
        let severity = format!("{:?}", f.severity).to_lowercase();
        println!("  {severity} {}: {}", f.kind.name(), f.summary);
        if let Some(r) = f.remedies.first() {
            println!("      try: {}  ({})", r.title, r.command);
        }
    }
    Ok(())
}
