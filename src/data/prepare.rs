//! A run's data, ready to train on: the `[data]` section of a spec
//! ([`DataSpec`]); [`prepare`], which loads a bundled subset (MNIST,
//! Fashion-MNIST), an IDX folder, CIFAR-10's batches or a generator's
//! examples for a feed-forward net, and scales them; and
//! [`prepare_sequences`], which builds a sequence task's sets for a
//! recurrent net. Each refuses the other's names.

use super::generators::{self, GENERATOR_NAMES};
use super::sequence::{SeqPrepared, SeqTask};
use super::{cifar10, mnist, Augment, Dataset, Scaling};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The names [`prepare`] reads: the image sets, then the generators.
pub const DATA_NAMES: &str = "mnist, fashion, cifar10, spirals, circles, xor, gaussians, shapeset";

/// The data section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSpec {
    /// `mnist` (bundled 10k, or `dir`), `fashion` (bundled 10k, or
    /// `dir`), `cifar10` (the fetched batches, or `dir`), or a generator:
    /// `spirals`, `circles`, `xor`, `gaussians`, `shapeset`; or a sequence
    /// task ([`SeqTask::NAMES`]): `adding`, `temporal_order`, `copy`,
    /// `seq_mnist`, `seq_mnist_pixels`, `text`.
    pub name: String,
    /// Folder with canonical files to use instead of the bundled subset:
    /// IDX `train-*`, `t10k-*` (mnist, fashion) or CIFAR-10's
    /// `data_batch_*.bin`, `test_batch.bin` (instead of the cache).
    pub dir: Option<String>,
    /// Folder with canonical test files (`t10k-*`; CIFAR-10's
    /// `test_batch.bin`) to evaluate on instead of the held-out split.
    pub eval_dir: Option<String>,
    /// Input scaling: `unit`, `standardize`, `binarize(t)`.
    pub scaling: Scaling,
    /// Generated examples for training (generators only).
    pub train_size: usize,
    /// Generated or held-out examples for evaluation (generators only).
    pub test_size: usize,
    /// Noise level of the 2-D generators, in [0, 1].
    pub noise: f64,
    /// Sequence tasks: steps per sequence `T` (for `copy`, the delay `T`
    /// of a `T + 20`-step sequence); 0 = the task's default
    /// ([`SeqTask::default_length`]). Left out of the TOML when 0, so a
    /// feed-forward run's spec reads as before.
    #[serde(skip_serializing_if = "is_zero")]
    pub length: usize,
    /// `seq_mnist`, `seq_mnist_pixels`: shuffle the 784 pixels by one
    /// fixed permutation (permuted MNIST). Left out of the TOML when false.
    #[serde(skip_serializing_if = "is_false")]
    pub permute: bool,
    /// Image sets: random crop and flip of each training batch
    /// ([`super::augment`]). Left out of the TOML when `none`.
    #[serde(skip_serializing_if = "Augment::is_none")]
    pub augment: Augment,
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
            length: 0,
            permute: false,
            augment: Augment::default(),
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Training and held-out data for a run.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// What the optimizer sees.
    pub train: Dataset,
    /// What accuracy is reported on.
    pub test: Dataset,
}

/// Loads (or generates, from `seed`) the data `d` names and scales it,
/// for a feed-forward net; a sequence task's name is refused (see
/// [`prepare_sequences`]).
pub fn prepare(d: &DataSpec, seed: u64) -> Result<Prepared> {
    if SeqTask::from_name(&d.name).is_some() {
        return Err(Error::InvalidConfig {
            field: "data.name".into(),
            reason: format!(
                "`{}` is a sequence task, for a recurrent model (model.kind = rnn, lstm or gru)",
                d.name
            ),
        });
    }
    for (field, set) in [("data.length", d.length != 0), ("data.permute", d.permute)] {
        if set {
            return Err(Error::InvalidConfig {
                field: field.into(),
                reason: format!(
                    "applies to sequence tasks ({}), not `{}`",
                    SeqTask::NAMES,
                    d.name
                ),
            });
        }
    }
    let dir = d.dir.as_deref().map(Path::new);
    let (mut train, mut test) = match (d.name.as_str(), dir) {
        ("mnist" | "fashion", Some(dir)) => (
            mnist::load_dir(dir, mnist::Split::Train)?,
            mnist::load_dir(dir, mnist::Split::Test)?,
        ),
        ("mnist", None) => mnist::MNIST_10K.split(),
        ("fashion", None) => mnist::FASHION_10K.split(),
        ("cifar10", dir) => {
            let dir = dir.map_or_else(cifar10::default_dir, PathBuf::from);
            (
                cifar10::load_dir(&dir, mnist::Split::Train)?,
                cifar10::load_dir(&dir, mnist::Split::Test)?,
            )
        }
        (name, _) if !GENERATOR_NAMES.split(", ").any(|g| g == name) => {
            return Err(Error::UnknownName {
                what: "dataset",
                name: name.into(),
                expected: format!("{DATA_NAMES}; for recurrent models {}", SeqTask::NAMES),
            })
        }
        (name, _) => (
            generators::generate(name, d.train_size, d.noise, seed)?,
            generators::generate(name, d.test_size, d.noise, seed ^ 0x5eed)?,
        ),
    };
    if let Some(dir) = &d.eval_dir {
        test = match d.name.as_str() {
            "cifar10" => cifar10::load_dir(Path::new(dir), mnist::Split::Test)?,
            _ => mnist::load_dir(Path::new(dir), mnist::Split::Test)?,
        };
    }
    if test.dim() != train.dim() {
        // Blame the key that brought the mismatch: the evaluation folder
        // when one is set, else the one folder whose two splits disagree
        // (a malformed training file was blamed on an unset eval_dir).
        // With both set, the side that has the set's own size is right.
        let expected = match d.name.as_str() {
            "mnist" | "fashion" => Some(784),
            "cifar10" => Some(3072),
            _ => None,
        };
        let field = match (&d.eval_dir, &d.dir) {
            (Some(_), _) if expected != Some(test.dim()) => "data.eval_dir",
            (_, Some(_)) => "data.dir",
            (Some(_), None) => "data.name",
            (None, None) => "data.name",
        };
        return Err(Error::InvalidConfig {
            field: field.into(),
            reason: format!(
                "the evaluation examples ({}) have {} features, the training examples ({}) {}",
                test.name,
                test.dim(),
                train.name,
                train.dim()
            ),
        });
    }
    // Refused here, before a model is built, when the rows are not images.
    d.augment.build(train.image, seed)?;
    let scaler = d.scaling.fit(&train);
    scaler.apply(&mut train);
    scaler.apply(&mut test);
    Ok(Prepared { train, test })
}

/// The train and test sequences of the task `d` names (generated ones from
/// `seed`), for a recurrent net; a feed-forward set's name is refused.
pub fn prepare_sequences(d: &DataSpec, seed: u64) -> Result<SeqPrepared> {
    let task = SeqTask::from_name(&d.name).ok_or_else(|| Error::InvalidConfig {
        field: "data.name".into(),
        reason: format!(
            "`{}` is not a sequence task (expected one of: {}); a recurrent model reads sequences",
            d.name,
            SeqTask::NAMES
        ),
    })?;
    task.prepare(d, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> DataSpec {
        DataSpec {
            name: name.into(),
            train_size: 16,
            test_size: 8,
            ..DataSpec::default()
        }
    }

    fn refusal(r: Result<impl std::fmt::Debug>) -> (String, String) {
        match r {
            Err(Error::InvalidConfig { field, reason }) => (field, reason),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn each_entry_point_refuses_the_others_names() {
        let (field, reason) = refusal(prepare(&named("adding"), 0));
        assert_eq!(field, "data.name");
        assert!(reason.contains("`adding` is a sequence task"), "{reason}");
        let (field, reason) = refusal(prepare_sequences(&named("spirals"), 0));
        assert_eq!(field, "data.name");
        assert!(
            reason.contains("`spirals` is not a sequence task"),
            "{reason}"
        );
        assert!(reason.contains(SeqTask::NAMES), "{reason}");
    }

    #[test]
    fn feed_forward_sets_refuse_sequence_keys() {
        let mut d = named("xor");
        d.length = 50;
        assert_eq!(refusal(prepare(&d, 0)).0, "data.length");
        let mut d = named("xor");
        d.permute = true;
        assert_eq!(refusal(prepare(&d, 0)).0, "data.permute");
        assert_eq!(prepare(&named("xor"), 0).unwrap().train.len(), 16);
    }

    #[test]
    fn sequence_keys_serialize_only_when_set() {
        let plain = toml::to_string(&DataSpec::default()).unwrap();
        assert!(
            !plain.contains("length") && !plain.contains("permute"),
            "{plain}"
        );
        let mut d = named("seq_mnist_pixels");
        d.permute = true;
        d.length = 784;
        let text = toml::to_string(&d).unwrap();
        assert!(text.contains("length = 784") && text.contains("permute = true"));
        assert_eq!(toml::from_str::<DataSpec>(&text).unwrap(), d);
    }

    #[test]
    fn fashion_without_a_folder_reads_the_bundled_subset() {
        let p = prepare(&named("fashion"), 0).unwrap();
        assert_eq!((p.train.len(), p.test.len()), (8_000, 2_000));
        assert_eq!(p.train.name, "fashion-mnist-10k:train");
        assert_eq!(p.test.image, Some(crate::nn::conv::Image::new(1, 28, 28)));
        let mnist = prepare(&named("mnist"), 0).unwrap();
        assert_ne!(mnist.train.features.row(0), p.train.features.row(0));
    }

    #[test]
    fn cifar10_reads_its_folder_and_names_the_fetch_command_when_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let mut d = named("cifar10");
        d.dir = Some(tmp.path().to_string_lossy().into_owned());
        let e = prepare(&d, 0).unwrap_err().to_string();
        let first = tmp.path().join("data_batch_1.bin");
        assert!(
            e.starts_with(&format!("{}: not found", first.display())),
            "{e}"
        );
        assert!(e.contains("gradscope data fetch cifar10"), "{e}");
        // One record per batch: a white image of class 3.
        let record = [vec![3u8], vec![255; 3072]].concat();
        for name in super::cifar10::TRAIN_FILES
            .iter()
            .chain([&super::cifar10::TEST_FILE])
        {
            std::fs::write(tmp.path().join(name), &record).unwrap();
        }
        d.augment = "crop+flip".parse().unwrap();
        let p = prepare(&d, 0).unwrap();
        assert_eq!((p.train.len(), p.test.len(), p.train.dim()), (5, 1, 3072));
        assert_eq!(p.train.image, Some(crate::nn::conv::Image::new(3, 32, 32)));
        assert!(p.train.features.as_slice().iter().all(|&v| v == 1.0));
    }

    #[test]
    fn unknown_names_list_every_set() {
        let e = prepare(&named("fashion_mnist"), 0).unwrap_err().to_string();
        assert!(e.contains("fashion_mnist") && e.contains(DATA_NAMES), "{e}");
        assert!(e.contains(SeqTask::NAMES), "{e}");
    }

    #[test]
    fn augmentation_is_for_images_only() {
        let mut d = named("spirals");
        d.augment = "flip".parse().unwrap();
        let (field, reason) = refusal(prepare(&d, 0));
        assert_eq!(field, "data.augment");
        assert!(reason.contains("not images"), "{reason}");
        let mut d = named("copy");
        d.augment = "flip".parse().unwrap();
        assert_eq!(refusal(prepare_sequences(&d, 0)).0, "data.augment");
        let mut d = named("shapeset");
        d.augment = "crop(2)+flip".parse().unwrap();
        assert!(prepare(&d, 0).is_ok());
    }

    #[test]
    fn augment_serializes_only_when_set() {
        let plain = toml::to_string(&DataSpec::default()).unwrap();
        assert!(!plain.contains("augment"), "{plain}");
        let mut d = named("cifar10");
        d.augment = "crop(4)+flip".parse().unwrap();
        let text = toml::to_string(&d).unwrap();
        assert!(text.contains("augment = \"crop(4)+flip\""), "{text}");
        assert_eq!(toml::from_str::<DataSpec>(&text).unwrap(), d);
    }

    #[test]
    fn sequence_tasks_prepare_from_the_spec() {
        let mut d = named("copy");
        d.length = 5;
        let p = prepare_sequences(&d, 2).unwrap();
        assert_eq!((p.train.len(), p.test.len(), p.train.length), (16, 8, 25));
        assert_eq!(p.train, prepare_sequences(&d, 2).unwrap().train);
        assert_ne!(p.train, prepare_sequences(&d, 3).unwrap().train);
    }

    /// Writes an IDX image file of `n` images of `h x w` and its labels.
    fn write_split(dir: &Path, prefix: &str, n: u32, h: u32, w: u32) {
        let mut images = vec![0, 0, 8, 3];
        for d in [n, h, w] {
            images.extend(d.to_be_bytes());
        }
        images.resize(images.len() + (n * h * w) as usize, 7);
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(n.to_be_bytes());
        labels.extend((0..n).map(|i| (i % 10) as u8));
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }

    /// Regression (issue 18): training images of another size than the
    /// test images in the same folder were blamed on `data.eval_dir`,
    /// which was not set. The folder's key is named, with both files.
    #[test]
    fn a_malformed_training_file_is_not_blamed_on_the_eval_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), "train", 20, 28, 27);
        write_split(dir.path(), "t10k", 10, 28, 28);
        let d = DataSpec {
            dir: Some(dir.path().to_string_lossy().into_owned()),
            ..named("mnist")
        };
        let (field, reason) = refusal(prepare(&d, 1));
        assert_eq!(field, "data.dir");
        assert!(reason.contains("756") && reason.contains("784"), "{reason}");
        assert!(
            reason.contains(":train") && reason.contains(":t10k"),
            "{reason}"
        );
        let other = tempfile::tempdir().unwrap();
        write_split(other.path(), "t10k", 10, 28, 28);
        let d = DataSpec {
            eval_dir: Some(other.path().to_string_lossy().into_owned()),
            ..d
        };
        // The training file is still the malformed one.
        assert_eq!(refusal(prepare(&d, 1)).0, "data.dir");
        write_split(dir.path(), "train", 20, 28, 28);
        write_split(other.path(), "t10k", 10, 28, 27);
        assert_eq!(refusal(prepare(&d, 1)).0, "data.eval_dir");
    }
}
