//! A spec trained in code, recorded into a store and diagnosed; then the
//! first remedy tried by changing the spec, as a program sweeping its own
//! variants would.
//!
//! The spec is TOML (the same keys as a spec file: docs/SPEC.md): a
//! 10-layer tanh MLP on Playground's two spirals whose weights start at
//! `N(0, 1)`, far too large for 32 inputs per unit, so most units sit on
//! tanh's flat tails. [`run_recorded`] trains it (the trainer, with a sink
//! of ours attached), records it into a [`Store`] and diagnoses it; the
//! per-layer gradient norms and the findings are printed. The same spec
//! with Batch Normalization (the first remedy diagnosis proposes) is run
//! next to it.
//!
//! Run it: `cargo run --release --example train_and_diagnose`
//! (`-- STORE` keeps the store at that path, to read with
//! `gradscope runs --db STORE` or `--example read_store -- STORE`).

use gradscope::nn::Norm;
use gradscope::prelude::*;
use std::path::Path;

/// The experiment, as a spec file would hold it.
pub const SPEC: &str = r#"
name = "tanh-10-large-init"
seed = 1
steps = 300
batch = 32

[data]
name = "spirals"
train_size = 512
test_size = 256

[model]
depth = 10
width = 32
activation = "tanh"
init = "normal(1.0)"

[optimizer]
name = "sgd"
lr = 0.05
"#;

/// Counts the steps as they come: a sink of our own, attached to the run
/// next to the store's writer and the in-memory record.
#[derive(Default)]
pub struct StepCounter {
    /// `Step` events seen.
    pub steps: usize,
    /// `Probe` events seen.
    pub probes: usize,
}

impl Sink for StepCounter {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Step(_) => self.steps += 1,
            Event::Probe(_) => self.probes += 1,
            _ => {}
        }
    }
}

/// The spec as written, and the same with Batch Normalization.
pub fn specs() -> Result<[Spec; 2]> {
    let spec = Spec::from_toml(SPEC, "examples/train_and_diagnose.rs")?;
    let mut with_bn = spec.clone();
    with_bn.name = format!("{}+bn", spec.name);
    with_bn.model.norm = Norm::Batch;
    Ok([spec, with_bn])
}

/// Trains both specs into the store at `db`; each run's outcome and what
/// our own sink counted.
pub fn run(db: &Path) -> Result<Vec<(Outcome, StepCounter)>> {
    let store = Store::open(db)?;
    let mut outcomes = Vec::new();
    for spec in specs()? {
        let data = spec.prepare_data()?;
        let mut counter = StepCounter::default();
        let outcome = run_recorded(
            &spec,
            &data,
            Some(&store),
            Compute::threads(1),
            &mut counter,
        )?;
        outcomes.push((outcome, counter));
    }
    Ok(outcomes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kept = std::env::args().nth(1);
    let dir = tempfile::tempdir()?;
    let db = kept.map_or_else(|| dir.path().join("runs.db"), Into::into);
    for (outcome, counter) in run(&db)? {
        let summary = outcome.result?;
        let record = &outcome.record;
        println!(
            "run {} `{}`: {} steps ({} probed), held-out accuracy {:.3}",
            outcome.run_id.unwrap_or_default(),
            record.spec.name,
            counter.steps,
            counter.probes,
            summary.test_accuracy,
        );
        println!("  |dL/dW| per layer at the last step:");
        for (layer, norm) in summary.layers.iter().zip(&summary.grad_norms) {
            println!("    {layer:<10} {norm:.3e}");
        }
        println!("  findings:");
        if outcome.findings.is_empty() {
            println!("    none");
        }
        for f in &outcome.findings {
            let severity = format!("{:?}", f.severity).to_lowercase();
            println!("    {severity} {}: {}", f.kind.name(), f.summary);
            if let Some(r) = f.remedies.first() {
                println!("      remedy: {}", r.title);
            }
        }
    }
    println!("store: {}", db.display());
    Ok(())
}
