//! A run's data, ready to train on: the `[data]` section of a spec
//! ([`DataSpec`]) and [`prepare`], which loads the bundled MNIST subset,
//! an IDX folder or a generator's examples, and scales them.

use super::{generators, mnist, Dataset, Scaling};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The data section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSpec {
    /// `mnist` (bundled 10k, or `dir`), `fashion` (needs `dir`), or a
    /// generator: `spirals`, `circles`, `xor`, `gaussians`, `shapeset`.
    pub name: String,
    /// Folder with canonical IDX files (`train-*`, `t10k-*`) to use instead
    /// of the bundled subset.
    pub dir: Option<String>,
    /// Folder with the canonical MNIST test files (`t10k-*`) to evaluate on
    /// instead of the held-out split.
    pub eval_dir: Option<String>,
    /// Input scaling: `unit`, `standardize`, `binarize(t)`.
    pub scaling: Scaling,
    /// Generated examples for training (generators only).
    pub train_size: usize,
    /// Generated or held-out examples for evaluation (generators only).
    pub test_size: usize,
    /// Noise level of the 2-D generators, in [0, 1].
    pub noise: f64,
}

impl Default for DataSpec {
    fn default() -> Self {
        Self {
            name: "mnist".into(),
            dir: None,
            eval_dir: None,
            scaling: Scaling::Unit,
            train_size: 2000,
            test_size: 1000,
            noise: 0.1,
        }
    }
}

/// Training and held-out data for a run.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// What the optimizer sees.
    pub train: Dataset,
    /// What accuracy is reported on.
    pub test: Dataset,
}

/// Loads (or generates, from `seed`) the data `d` names and scales it.
pub fn prepare(d: &DataSpec, seed: u64) -> Result<Prepared> {
    let (mut train, mut test) = match (d.name.as_str(), &d.dir) {
        ("mnist" | "fashion", Some(dir)) => (
            mnist::load_dir(Path::new(dir), mnist::Split::Train)?,
            mnist::load_dir(Path::new(dir), mnist::Split::Test)?,
        ),
        ("mnist", None) => mnist::bundled_split(),
        ("fashion", None) => {
            return Err(Error::InvalidConfig {
                field: "data.name".into(),
                reason: "`fashion` has no bundled copy: `gradscope data fetch fashion` downloads \
                         it and prints its folder; pass that folder with --data-dir (`data.dir`)"
                    .into(),
            })
        }
        (name, _) => (
            generators::generate(name, d.train_size, d.noise, seed)?,
            generators::generate(name, d.test_size, d.noise, seed ^ 0x5eed)?,
        ),
    };
    if let Some(dir) = &d.eval_dir {
        test = mnist::load_dir(Path::new(dir), mnist::Split::Test)?;
    }
    if test.dim() != train.dim() {
        return Err(Error::InvalidConfig {
            field: "data.eval_dir".into(),
            reason: format!(
                "evaluation examples have {} features, training examples {}",
                test.dim(),
                train.dim()
            ),
        });
    }
    let scaler = d.scaling.fit(&train);
    scaler.apply(&mut train);
    scaler.apply(&mut test);
    Ok(Prepared { train, test })
}
