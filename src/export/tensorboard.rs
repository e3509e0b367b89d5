//! A run as a TensorBoard event file: TFRecord records ([`tfrecord`]) of
//! `Event` protobufs ([`proto`]), the first one `file_version:
//! "brain.Event:2"`, then the run's curves, its per-layer figures and its
//! histograms, each tag's events in step order.
//!
//! Tags:
//!
//! | tag | what |
//! | --- | --- |
//! | `train/loss`, `train/accuracy`, `train/lr`, `train/grad_norm` | each step's batch figures |
//! | `eval/train_loss`, `eval/train_accuracy`, `eval/test_loss`, `eval/test_accuracy` | each evaluation |
//! | `grad_norm/<path>` | the layer's weight-gradient L2 norm (`weight_grad/l2/<path>`) |
//! | `<tensor>/<metric>/<path>` | every figure of the probe table ([`table`]) |
//! | `<metric>/<path>` | the layer's own figures: `saturated`, `dead`, `update_ratio`, `grad_data_ratio` |
//! | `hist/<tensor>/<path>` | histograms: `weight_grad`, `pre_grad`, `output` |
//!
//! TensorBoard's scalars are f32 (a figure below 1e-38 becomes subnormal
//! or 0); a figure not measured (NaN) is left out. A step's wall time is
//! interpolated between the run's start and end (the store keeps no time
//! per step).
//!
//! [`tfrecord`]: super::tfrecord
//! [`proto`]: super::proto
//! [`table`]: super::table

use super::proto::{Event, HistogramProto, Kind, Summary, Value, What};
use super::table::figures;
use super::tfrecord::write_record;
use crate::error::{Error, Result};
use crate::probe::{Histogram, TensorStats, BINS};
use crate::store::{HistogramRow, RunHead, Store};
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name TensorBoard looks for (`tfevents` in it), with the run's
/// start time, host and id, so a second export of a run replaces the first.
pub fn file_name(head: &RunHead) -> String {
    format!(
        "events.out.tfevents.{}.{}.gradscope.{}",
        head.created_at.max(0.0) as u64,
        safe(&head.host, "host"),
        head.id
    )
}

/// The run's folder under the export folder: TensorBoard names a run by
/// its folder (`run-3-mnist-sigmoid`).
pub fn run_folder(head: &RunHead) -> String {
    let name = safe(&head.name, "");
    if name.is_empty() {
        format!("run-{}", head.id)
    } else {
        format!("run-{}-{name}", head.id)
    }
}

/// `text` with every character outside `[A-Za-z0-9._-]` as `_`, at most
/// 48 characters; `empty` if nothing is left.
fn safe(text: &str, empty: &str) -> String {
    let s: String = text
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches(['.', '_']).to_string();
    if s.is_empty() {
        empty.to_string()
    } else {
        s
    }
}

/// Writes run `run_id`'s events to `out`; returns the events written.
pub fn write_run(store: &Store, head: &RunHead, out: &mut impl Write, path: &Path) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut written = 0u64;
    let mut emit = |step: usize, what: What| -> Result<()> {
        let event = Event {
            wall_time: wall_time(head, step),
            step: step as i64,
            what: Some(what),
        };
        written += 1;
        write_record(out, &event.encode_to_vec()).map_err(io)
    };
    emit(0, What::FileVersion("brain.Event:2".into()))?;
    store.each_step(head.id, |s| {
        let values = scalars(&[
            ("train/loss", s.loss),
            ("train/accuracy", s.accuracy),
            ("train/lr", s.lr),
            ("train/grad_norm", s.grad_norm),
        ]);
        emit_summary(&mut emit, s.step, values)
    })?;
    store.each_eval(head.id, |e| {
        let values = scalars(&[
            ("eval/train_loss", e.train_loss),
            ("eval/train_accuracy", e.train_accuracy),
            ("eval/test_loss", e.test_loss),
            ("eval/test_accuracy", e.test_accuracy),
        ]);
        emit_summary(&mut emit, e.step, values)
    })?;
    store.each_layer_row(head.id, |step, l| {
        let path = layer_name(&l.path, l.layer);
        let mut values = scalars(&[(&format!("grad_norm/{path}"), l.weight_grad.l2())]);
        for f in figures(l) {
            let tag = if f.tensor == "layer" {
                format!("{}/{path}", f.metric)
            } else {
                format!("{}/{}/{path}", f.tensor, f.metric)
            };
            values.extend(scalars(&[(&tag, f.value)]));
        }
        emit_summary(&mut emit, step, values)
    })?;
    store.each_histogram(head.id, |h: &HistogramRow| {
        let Some(histo) = histogram(&h.hist, h.stats.as_ref()) else {
            return Ok(());
        };
        let tag = format!("hist/{}/{}", h.tensor.name(), layer_name(&h.path, h.layer));
        let value = Value {
            tag,
            kind: Some(Kind::Histo(histo)),
        };
        emit_summary(&mut emit, h.step, vec![value])
    })?;
    Ok(written)
}

/// One event of `values` at `step`, if any.
fn emit_summary(
    emit: &mut impl FnMut(usize, What) -> Result<()>,
    step: usize,
    values: Vec<Value>,
) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    emit(step, What::Summary(Summary { value: values }))
}

/// Scalar values of the measured (not NaN) pairs.
fn scalars(pairs: &[(&str, f64)]) -> Vec<Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_nan())
        .map(|&(tag, v)| Value {
            tag: tag.to_string(),
            kind: Some(Kind::SimpleValue(v as f32)),
        })
        .collect()
}

/// The layer's path, or `layer<i>` if it has none.
fn layer_name(path: &str, layer: usize) -> String {
    if path.is_empty() {
        format!("layer{layer}")
    } else {
        path.to_string()
    }
}

/// Unix seconds at `step`: the run's start, plus its duration times the
/// fraction of its steps done (its start throughout if it never ended).
fn wall_time(head: &RunHead, step: usize) -> f64 {
    let span = head
        .finished_at
        .map_or(0.0, |f| (f - head.created_at).max(0.0));
    let frac = step as f64 / head.total_steps.max(1) as f64;
    head.created_at + span * frac.min(1.0)
}

/// `10^(LOG10_MIN + i BIN_WIDTH)`: the lower edge of bin `i`, as a value.
fn edge(i: usize) -> f64 {
    10f64.powf(Histogram::edge(i))
}

/// The histogram as TensorBoard's: buckets in increasing value (the
/// negative bins from the largest magnitude down, the zeros, the positive
/// bins), each bucket's limit its right edge; empty buckets before the
/// first and after the last value left out, runs of empty buckets between
/// them merged into one. Sum and sum of squares come from the layer row's
/// statistics of the same tensor (the histogram has only counts; without
/// the row, from the bins' geometric midpoints), and the largest
/// magnitude bounds the outer buckets. Non-finite entries are not
/// counted. `None` when no finite value was counted.
pub fn histogram(h: &Histogram, stats: Option<&TensorStats>) -> Option<HistogramProto> {
    let max_abs = stats
        .map(|s| s.max_abs)
        .filter(|m| m.is_finite() && *m > 0.0);
    // The last bin also holds everything above its nominal edge.
    let top = max_abs.map_or(10f64.powf(crate::probe::LOG10_MAX), |m| {
        m.max(edge(BINS - 1))
    });
    let upper = |i: usize| if i + 1 == BINS { top } else { edge(i + 1) };
    // (left edge, right edge, count) in increasing value.
    let mut buckets: Vec<(f64, f64, u64)> = Vec::with_capacity(2 * BINS + 1);
    for i in (0..BINS).rev() {
        buckets.push((-upper(i), -edge(i), h.neg.get(i).copied().unwrap_or(0)));
    }
    buckets.push((-edge(0), 0.0, h.zero));
    for i in 0..BINS {
        buckets.push((edge(i), upper(i), h.pos.get(i).copied().unwrap_or(0)));
    }
    let first = buckets.iter().position(|b| b.2 > 0)?;
    let last = buckets.iter().rposition(|b| b.2 > 0)?;
    let mut limits = Vec::new();
    let mut counts = Vec::new();
    for (k, b) in buckets[first..=last].iter().enumerate() {
        let next_empty = buckets.get(first + k + 1).is_some_and(|n| n.2 == 0);
        if b.2 == 0 && next_empty {
            continue; // merged into the next empty bucket
        }
        limits.push(b.1);
        counts.push(b.2 as f64);
    }
    let zero_only = |b: &(f64, f64, u64)| if b.1 == 0.0 && b.0 < 0.0 { 0.0 } else { b.0 };
    let min = match max_abs {
        Some(m) if buckets[first].0 < 0.0 => buckets[first].0.max(-m),
        _ => zero_only(&buckets[first]),
    };
    let max = match max_abs {
        Some(m) => buckets[last].1.min(m),
        None => buckets[last].1,
    };
    let num: f64 = counts.iter().sum();
    let (sum, sum_squares) = match stats {
        Some(s) if s.sum.is_finite() && s.sum_sq.is_finite() => (s.sum, s.sum_sq),
        _ => buckets.iter().fold((0.0, 0.0), |(s, q), b| {
            let mid = (b.0 * b.1).abs().sqrt() * b.1.signum();
            (s + b.2 as f64 * mid, q + b.2 as f64 * mid * mid)
        }),
    };
    Some(HistogramProto {
        min,
        max: max.max(min),
        num,
        sum,
        sum_squares,
        bucket_limit: limits,
        bucket: counts,
    })
}

/// Writes run `run_id` into `dir/<run folder>/<file name>` (through a
/// temporary file renamed at the end: TensorBoard never sees half a
/// file); returns the file and the events written.
pub fn export_run(store: &Store, run_id: i64, dir: &Path) -> Result<(PathBuf, u64)> {
    let head = store.run_head(run_id)?;
    let folder = dir.join(run_folder(&head));
    std::fs::create_dir_all(&folder).map_err(|source| Error::Io {
        path: folder.clone(),
        source,
    })?;
    let path = folder.join(file_name(&head));
    let events = super::write_atomically(&path, |out, tmp| write_run(store, &head, out, tmp))?;
    Ok((path, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(neg: &[(usize, u64)], zero: u64, pos: &[(usize, u64)]) -> Histogram {
        let mut h = Histogram {
            neg: vec![0; BINS],
            pos: vec![0; BINS],
            zero,
            non_finite: 7,
        };
        for &(i, c) in neg {
            h.neg[i] = c;
        }
        for &(i, c) in pos {
            h.pos[i] = c;
        }
        h
    }

    #[test]
    fn buckets_run_in_increasing_value_with_gaps_merged() {
        // bin 86 covers [10^-3, 10^-2.5), bin 90 [10^-1, 10^-0.5).
        let h = hist(&[(90, 2)], 3, &[(86, 4), (90, 1)]);
        let p = histogram(&h, None).unwrap();
        assert_eq!(p.num, 10.0, "non-finite entries are not counted");
        assert_eq!(p.bucket.iter().sum::<f64>(), 10.0);
        assert!(p.bucket_limit.windows(2).all(|w| w[0] < w[1]));
        // First bucket: the negatives in (-10^-0.5, -10^-1]; the minimum is
        // that bucket's left edge.
        assert_eq!(p.bucket[0], 2.0);
        assert!((p.bucket_limit[0] + 0.1).abs() < 1e-12);
        assert!((p.min + 10f64.powf(-0.5)).abs() < 1e-12);
        // Empty stretches between values are single buckets.
        assert!(p.bucket.len() < 12, "{:?}", p.bucket);
        // Last bucket ends at the top of bin 90.
        assert!((p.max - 10f64.powf(-0.5)).abs() < 1e-12);
    }

    #[test]
    fn the_layer_row_gives_sums_and_bounds() {
        let h = hist(&[], 0, &[(86, 4)]);
        let s = TensorStats {
            n: 4,
            sum: 0.006,
            sum_sq: 1e-5,
            max_abs: 0.002,
            ..TensorStats::default()
        };
        let p = histogram(&h, Some(&s)).unwrap();
        assert_eq!((p.sum, p.sum_squares), (0.006, 1e-5));
        assert_eq!(p.max, 0.002);
        assert!((p.min - 1e-3).abs() < 1e-15, "{}", p.min);
    }

    #[test]
    fn an_empty_histogram_is_left_out() {
        assert!(histogram(&hist(&[], 0, &[]), None).is_none());
    }

    #[test]
    fn names_are_safe_for_a_file_system() {
        let head = RunHead {
            id: 3,
            name: "a/b c\u{1b}".into(),
            host: "".into(),
            created_at: 1.7e9,
            finished_at: None,
            total_steps: 10,
        };
        assert_eq!(run_folder(&head), "run-3-a_b_c");
        assert_eq!(
            file_name(&head),
            "events.out.tfevents.1700000000.host.gradscope.3"
        );
        assert_eq!(wall_time(&head, 5), 1.7e9);
    }
}
