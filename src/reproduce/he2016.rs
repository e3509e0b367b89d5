//! He, Zhang, Ren & Sun 2016 ("Deep Residual Learning for Image
//! Recognition"), Figures 1 and 6 and Table 6, at reduced scale: a deeper
//! plain CNN ends with a *higher training* error than a shallower one (the
//! degradation problem), while with identity shortcuts the deeper net
//! trains at least as well, and better than the plain one of its depth.
//!
//! Ours: the CIFAR family of section 4.2 (`kind = "cnn"`: a 3x3 stem, three
//! stages of `n` blocks of two 3x3 convs, BatchNorm, global average
//! pooling; `6n + 2` layers), plain and residual (zero-padding shortcuts,
//! their option A), on the bundled Fashion-MNIST, with fewer channels and
//! steps than theirs (CIFAR-10 is not bundled). How well a net trained is
//! its mean training-batch loss over the last quarter of the steps (the
//! batches it trained on, as their Figure 6's dashed curves), and its final
//! training and held-out error (eval mode).

use super::format::mean_pct;
use super::{Check, Context, Mode, Outcome, Reproduction, SweepResult, SweptRun, Table};
use crate::analysis::diagnose::compare;
use crate::error::Result;
use crate::experiment::events::StepRecord;
use crate::experiment::RunRecord;
use crate::report::plot::{Line, Plot};
use crate::report::Figure;

/// The reproduction.
pub const REPRODUCTION: Reproduction = Reproduction {
    name: "he2016",
    paper: "He, Zhang, Ren & Sun 2016, Deep Residual Learning for Image Recognition \
            (Figures 1 and 6, Table 6)",
    shows: "a deeper plain CNN trains worse than a shallower one (degradation); with identity \
            shortcuts the deeper net trains better",
    quick_seconds: 15,
    full_seconds: 240,
    run,
};

/// The last fraction of the steps whose batch losses say where a run
/// ended (our choice: a quarter averages the batch noise of a short run).
const TAIL: f64 = 0.25;

/// Degradation: the deeper plain net's tail loss at least this multiple
/// of the shallower one's (our choice; seed-to-seed spread is a few %).
const DEGRADED: f64 = 1.05;

/// The deeper residual net's tail loss at most this multiple of the
/// shallower residual one's ("not worse", our choice).
const NOT_WORSE: f64 = 1.0;

/// At the deeper depth, plain's tail loss at least this multiple of
/// residual's (our choice).
const SHORTCUT_GAIN: f64 = 1.05;

/// Depth helps the residual net more than the plain one: the plain nets'
/// deep/shallow loss ratio at least this multiple of the residual nets'
/// (our choice; 1.16 to 1.33 over seeds 0 to 2 of the quick mode).
const RELATIVE_GAIN: f64 = 1.1;

/// The paper's Table 6: CIFAR-10 test error (%) of the ResNets by depth.
const TABLE_6: [(usize, f64); 5] = [(20, 8.75), (32, 7.51), (44, 7.17), (56, 6.97), (110, 6.43)];

/// The two kinds of net, as the `model.residual` cell spells them.
const KINDS: [(&str, &str); 2] = [("false", "plain"), ("true", "residual")];

fn run(ctx: &mut Context<'_>) -> Result<Outcome> {
    let sweep = ctx.sweep(&crate::sweep_file!("he2016"))?;
    let ns = blocks(&sweep);
    let spec = &sweep.runs[0].record.spec;
    let conv = &spec.model.conv;
    let layers = |n: usize| 6 * n + 2;
    let channels: Vec<String> = conv.channels.iter().map(|c| c.to_string()).collect();
    let mut out = Outcome {
        setup: vec![
            "Paper: CIFAR-10 (50,000 training images, 10,000 test), plain and residual nets of \
             6n + 2 layers (n = 3, 5, 7, 9, 18: 20 to 110 layers), 16/32/64 channels, \
             BatchNorm, SGD with momentum 0.9 at lr 0.1, batches of 128, 64k iterations; \
             training and test error over iterations (Figures 1, 6), ResNets' test error \
             (Table 6)."
                .into(),
            format!(
                "Ours: the bundled Fashion-MNIST subset (8,000 training images, 2,000 held out, \
                 28 x 28 x 1), the same family at {} (n = {}) with {} channels, BatchNorm, \
                 zero-padding shortcuts, {} steps of SGD with momentum 0.9 at lr {}, batches \
                 of {}, no augmentation or weight decay, {} seed(s); `{}`. CIFAR-10 needs \
                 `gradscope data fetch cifar10` (a download), so it is not used here.",
                ns.iter()
                    .map(|&n| format!("{} layers", layers(n)))
                    .collect::<Vec<_>>()
                    .join(" and "),
                ns.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
                channels.join("/"),
                spec.steps,
                spec.optimizer.lr,
                spec.batch,
                seeds(&sweep),
                sweep.path
            ),
        ],
        sweeps: vec![(sweep.sweep_id, sweep.name.clone())],
        ..Outcome::default()
    };
    let [shallow, deep] = ns;
    let (ls, ld) = (layers(shallow), layers(deep));

    let tails = |kind: usize, n: usize| -> Vec<f64> {
        runs(&sweep, kind, n)
            .iter()
            .map(|r| tail_loss(&r.record, TAIL))
            .collect()
    };
    let mut table = Table::new(
        "Where each net ends: training loss and error (mean over the training batches of the \
         last quarter of the steps), held-out error",
        &[
            "net",
            "paper (Figs. 1, 6)",
            "training loss",
            "training error (%)",
            "held-out error (%, eval mode)",
        ],
    );
    for (k, (_, kind)) in KINDS.iter().enumerate() {
        for (j, &n) in ns.iter().enumerate() {
            let rs = runs(&sweep, k, n);
            table.row(vec![
                format!("{kind}-{}", layers(n)),
                paper_curve(k, j).into(),
                tails(k, n)
                    .iter()
                    .map(|l| format!("{l:.3}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                mean_pct(rs.iter().map(|r| tail_error(&r.record, TAIL))),
                mean_pct(rs.iter().map(|r| 1.0 - r.test_accuracy())),
            ]);
        }
    }
    out.tables.push(table);

    let mut t6 = Table::new(
        "Test error (%) by depth: the paper's ResNets on CIFAR-10 (Table 6), ours on \
         Fashion-MNIST",
        &[
            "layers",
            "paper ResNet (CIFAR-10)",
            "our residual",
            "our plain",
        ],
    );
    for (l, e) in TABLE_6 {
        let ours = |k: usize| {
            ns.iter()
                .find(|&&n| layers(n) == l)
                .map_or("-".into(), |&n| {
                    mean_pct(runs(&sweep, k, n).iter().map(|r| 1.0 - r.test_accuracy()))
                })
        };
        t6.row(vec![l.to_string(), format!("{e:.2}"), ours(1), ours(0)]);
    }
    for &n in &ns {
        if TABLE_6.iter().all(|(l, _)| *l != layers(n)) {
            t6.row(vec![
                layers(n).to_string(),
                "-".into(),
                mean_pct(runs(&sweep, 1, n).iter().map(|r| 1.0 - r.test_accuracy())),
                mean_pct(runs(&sweep, 0, n).iter().map(|r| 1.0 - r.test_accuracy())),
            ]);
        }
    }
    out.tables.push(t6);

    let (ps, pd) = (tails(0, shallow), tails(0, deep));
    let (rs, rd) = (tails(1, shallow), tails(1, deep));
    let list = |v: &[f64]| {
        v.iter()
            .map(|l| format!("{l:.3}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    out.checks.push(Check::new(
        format!(
            "Degradation: plain-{ld} ends with a higher training loss than plain-{ls} (by {:.0}% \
             at least, every seed)",
            100.0 * (DEGRADED - 1.0)
        ),
        every(&pd, &ps, |d, s| d >= DEGRADED * s),
        format!("plain-{ld} {}, plain-{ls} {}", list(&pd), list(&ps)),
    ));
    out.checks.push(Check::new(
        format!(
            "With shortcuts, residual-{ld} trains at least as well as residual-{ls} (every seed)"
        ),
        every(&rd, &rs, |d, s| d <= NOT_WORSE * s),
        format!("residual-{ld} {}, residual-{ls} {}", list(&rd), list(&rs)),
    ));
    out.checks.push(Check::new(
        format!(
            "At {ld} layers the residual net trains better than the plain one (loss at most 1/{} \
             of plain's, every seed)",
            SHORTCUT_GAIN
        ),
        every(&pd, &rd, |p, r| p >= SHORTCUT_GAIN * r),
        format!("plain-{ld} {}, residual-{ld} {}", list(&pd), list(&rd)),
    ));

    let ratios =
        |d: &[f64], s: &[f64]| -> Vec<f64> { d.iter().zip(s).map(|(d, s)| d / s).collect() };
    let (pr, rr) = (ratios(&pd, &ps), ratios(&rd, &rs));
    let fmt_ratios = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    out.checks.push(Check::new(
        format!(
            "Depth helps the residual nets more: plain-{ld}/plain-{ls} loss ratio at least {} \
             times residual-{ld}/residual-{ls}'s (every seed)",
            RELATIVE_GAIN
        ),
        every(&pr, &rr, |p, r| p >= RELATIVE_GAIN * r),
        format!("plain {}, residual {}", fmt_ratios(&pr), fmt_ratios(&rr)),
    ));

    out.notes.push(degradation_rule(&sweep, shallow, deep));
    if ctx.mode == Mode::Quick {
        out.notes.push(
            "The quick mode's degradation is small: at 8 against 20 layers after 200 steps the \
             deeper plain net ended 6.5%, 15% and 6% above the shallower one on seeds 0, 1 and \
             2 (after 250 steps: 7% and 13% above, 4% below); the residual nets' gain from depth \
             held on all three."
                .into(),
        );
    }
    out.notes.push(
        "The paper gives plain nets' errors only as curves (Figures 1 and 6: plain-56 above \
         plain-20 in training and test error throughout), and ResNets' final test errors in \
         Table 6; our held-out errors are on another data set, at a fraction of their steps, \
         so they are beside theirs only to show the direction. The held-out error is measured in \
         eval mode, through BatchNorm's running averages, which after a few hundred steps at \
         this rate still lag the weights (most in the deepest nets): the training columns \
         are the batches' own."
            .into(),
    );
    out.figures.push(figure(&sweep, 0, ns));
    out.figures.push(figure(&sweep, 1, ns));
    Ok(out)
}

/// The sweep's two `model.n` values, shallower first.
fn blocks(sweep: &SweepResult) -> [usize; 2] {
    let mut ns: Vec<usize> = sweep
        .runs
        .iter()
        .map(|r| r.record.spec.model.conv.n)
        .collect();
    ns.sort_unstable();
    ns.dedup();
    [ns[0], ns[ns.len() - 1]]
}

fn seeds(sweep: &SweepResult) -> usize {
    let mut s: Vec<u64> = sweep.runs.iter().map(|r| r.row.seed).collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// The runs of kind index `kind` (plain, residual) with `n` blocks per
/// stage, every seed, in seed order.
fn runs(sweep: &SweepResult, kind: usize, n: usize) -> Vec<&SweptRun> {
    sweep.select(&[
        ("model.residual", KINDS[kind].0),
        ("model.n", &n.to_string()),
    ])
}

/// The paper's curves for kind index `k` at depth index `j`, described.
fn paper_curve(k: usize, j: usize) -> &'static str {
    match (k, j) {
        (0, 0) => "lower training error than the deeper plain net",
        (0, _) => "higher training error than the shallower (degradation)",
        (_, 0) => "higher training error than the deeper ResNet",
        _ => "lowest training error; Table 6 gains with depth",
    }
}

/// Whether `f` holds for every pair of `a` and `b` (seed by seed), and
/// there is at least one pair.
fn every(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> bool) -> bool {
    !a.is_empty() && a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| f(x, y))
}

/// The mean training-batch loss over the last `fraction` of the steps
/// done (by step index); NaN when there is none or it is not finite.
fn tail_loss(r: &RunRecord, fraction: f64) -> f64 {
    tail_mean(r, fraction, |s| s.loss)
}

/// The mean training-batch error over the last `fraction` of the steps.
fn tail_error(r: &RunRecord, fraction: f64) -> f64 {
    tail_mean(r, fraction, |s| 1.0 - s.accuracy)
}

/// The mean of `f` over the steps in the last `fraction` of those done.
fn tail_mean(r: &RunRecord, fraction: f64, f: impl Fn(&StepRecord) -> f64) -> f64 {
    let done = r.steps_done();
    let window = ((done as f64 * fraction).ceil() as usize).clamp(1, done.max(1));
    let from = done.saturating_sub(window);
    let tail: Vec<f64> = r.steps.iter().filter(|s| s.step >= from).map(f).collect();
    if tail.is_empty() {
        return f64::NAN;
    }
    tail.iter().sum::<f64>() / tail.len() as f64
}

/// What gradscope's own degradation rule (`diagnose`, comparing runs)
/// says about each seed's pair of plain nets.
fn degradation_rule(sweep: &SweepResult, shallow: usize, deep: usize) -> String {
    let (s, d) = (runs(sweep, 0, shallow), runs(sweep, 0, deep));
    let fires = s
        .iter()
        .zip(&d)
        .filter(|(s, d)| !compare(&[&s.record, &d.record]).is_empty())
        .count();
    format!(
        "gradscope's own degradation rule (diagnose, comparing plain runs: the deeper net's \
         training loss over the last tenth of the steps above 1.1 times the shallower's) flags \
         {fires} of {} seed(s)' plain pair.",
        s.len().min(d.len())
    )
}

/// Training loss over steps (batch losses, a moving mean over a fiftieth
/// of the run) of kind index `kind` at both depths, first seed: Figure 6's
/// left panel (plain) or middle panel (residual).
fn figure(sweep: &SweepResult, kind: usize, ns: [usize; 2]) -> Figure {
    let name = KINDS[kind].1;
    let title = format!("{name} nets, training loss (Figure 6)");
    let mut p = Plot::new(&title, "step", "training loss (batch, moving mean)");
    for (j, &n) in ns.iter().enumerate() {
        if let Some(r) = runs(sweep, kind, n).first() {
            let losses: Vec<(usize, f64)> =
                r.record.steps.iter().map(|s| (s.step, s.loss)).collect();
            let window = (losses.len() / 50).max(1);
            p.lines.push(Line::new(
                format!("{name}-{}", 6 * n + 2),
                j,
                moving_mean(&losses, window),
            ));
        }
    }
    Figure {
        id: format!("he2016-{name}"),
        title,
        caption: match kind {
            0 => "Plain nets: the deeper one's training loss stays above the shallower one's \
                  (degradation)."
                .into(),
            _ => {
                "Residual nets: the deeper one trains at least as well as the shallower one.".into()
            }
        },
        svg: p.render(),
    }
}

/// The mean of each `window` consecutive points, one point per window,
/// at the window's last step.
fn moving_mean(points: &[(usize, f64)], window: usize) -> Vec<(f64, f64)> {
    points
        .chunks(window.max(1))
        .map(|c| {
            let m = c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64;
            (c[c.len() - 1].0 as f64, m)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spec;

    fn record(losses: &[f64]) -> RunRecord {
        let mut r = RunRecord::new(Spec::default());
        for (step, &loss) in losses.iter().enumerate() {
            r.steps.push(StepRecord {
                step,
                loss,
                accuracy: 0.0,
                lr: 0.1,
                grad_norm: 1.0,
            });
        }
        r
    }

    #[test]
    fn tail_loss_averages_the_last_fraction_of_steps() {
        // 8 steps, a quarter: the last 2 (3.0 and 5.0).
        let r = record(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 3.0, 5.0]);
        assert_eq!(tail_loss(&r, 0.25), 4.0);
        // A fraction that rounds up: 0.3 of 8 is 2.4, so 3 steps.
        assert_eq!(tail_loss(&r, 0.3), (9.0 + 3.0 + 5.0) / 3.0);
        assert!(tail_loss(&record(&[]), 0.25).is_nan());
        // The record's batch accuracy is 0: the error is 1.
        assert_eq!(tail_error(&r, 0.25), 1.0);
    }

    #[test]
    fn moving_mean_keeps_one_point_per_window() {
        let pts = [(0, 1.0), (1, 3.0), (2, 5.0), (3, 7.0), (4, 9.0)];
        assert_eq!(
            moving_mean(&pts, 2),
            vec![(1.0, 2.0), (3.0, 6.0), (4.0, 9.0)]
        );
    }

    #[test]
    fn every_needs_matching_nonempty_pairs() {
        assert!(every(&[2.0, 3.0], &[1.0, 2.0], |a, b| a > b));
        assert!(!every(&[2.0, 1.0], &[1.0, 2.0], |a, b| a > b));
        assert!(!every(&[], &[], |a, b| a > b));
        assert!(!every(&[2.0], &[1.0, 0.0], |a, b| a > b));
    }
}
