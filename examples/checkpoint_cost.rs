//! What checkpoints cost: trains a spec with a checkpoint every N steps
//! through a [`CheckpointSaver`] that times each atomic write (serialize,
//! write, fsync, rename), and prints the training speed, the file's size
//! and the mean write time (docs/CHECKPOINTS.md has the figures).
//!
//! ```text
//! cargo run --release --example checkpoint_cost -- SPEC.toml EVERY
//! ```

use gradscope::checkpoint::{Checkpoint, CheckpointSaver, Checkpointing, Start};
use gradscope::experiment::trainer::{train_with, NullSink};
use gradscope::experiment::Spec;
use gradscope::tensor::Compute;
use std::time::Instant;

/// Writes each checkpoint over the last, timing it.
struct Timed {
    dir: std::path::PathBuf,
    secs: Vec<f64>,
    bytes: usize,
}
impl CheckpointSaver for Timed {
    fn save(&mut self, c: &mut Checkpoint) -> gradscope::Result<()> {
        let t = Instant::now();
        let p = self.dir.join("c.safetensors");
        c.write_atomic(&p)?;
        self.secs.push(t.elapsed().as_secs_f64());
        self.bytes = std::fs::metadata(&p).unwrap().len() as usize;
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: checkpoint_cost SPEC.toml EVERY");
        std::process::exit(2);
    }
    let toml = std::fs::read_to_string(&args[1]).unwrap();
    let every: usize = args[2].parse().unwrap();
    let spec = Spec::from_toml(&toml, "x").unwrap();
    let data = spec.prepare_data().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut saver = Timed {
        dir: dir.path().into(),
        secs: vec![],
        bytes: 0,
    };
    let t = Instant::now();
    let c = Checkpointing {
        every,
        saver: Some(&mut saver),
        start: Start::Fresh,
    };
    let s = Compute::threads(2)
        .install(|| train_with(&spec, &data, &mut NullSink, c))
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    let n = saver.secs.len().max(1) as f64;
    println!("every={every} steps/s(train)={:.1} wall={wall:.2}s train={:.2}s checkpoints={} bytes={} mean_write={:.2}ms total_write={:.3}s",
        s.steps as f64 / s.train_seconds, s.train_seconds, saver.secs.len(), saver.bytes,
        1e3 * saver.secs.iter().sum::<f64>() / n, saver.secs.iter().sum::<f64>());
}
