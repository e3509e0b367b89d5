//! Ridge plot of `log10 |dL/dW|` per layer at up to four histogram steps
//! (first, 25%, 50%, last). Each ridge is one layer's histogram (negative
//! and positive entries together), scaled to its own peak; the input side
//! is at the bottom. A vanishing gradient is the ridges sliding left, by
//! decades, towards the input.

use super::color;
use super::svg::{decade_ticks, placeholder, Area, Scale, Svg, Ticks, H, W};
use crate::experiment::RunRecord;
use crate::probe::{pick_steps, HistTensor, Histogram, StepProbe, BIN_WIDTH};

/// The tensor drawn.
pub const TENSOR: HistTensor = HistTensor::WeightGrad;

fn hist(p: &StepProbe, layer: usize) -> Option<&Histogram> {
    p.histograms
        .iter()
        .find(|h| h.layer == layer && h.tensor == TENSOR)
        .map(|h| &h.hist)
}

fn counts(h: &Histogram) -> impl Iterator<Item = u64> + '_ {
    h.neg.iter().zip(&h.pos).map(|(a, b)| a + b)
}

/// The chart.
pub fn render(title: &str, record: &RunRecord) -> String {
    let with: Vec<&StepProbe> = record
        .probes
        .iter()
        .filter(|p| p.histograms.iter().any(|h| h.tensor == TENSOR))
        .collect();
    let steps: Vec<usize> = with.iter().map(|p| p.step).collect();
    let picked: Vec<&StepProbe> = pick_steps(&steps, &[0.0, 0.25, 0.5, 1.0])
        .into_iter()
        .map(|i| with[i])
        .collect();
    let depth = record.depth();
    // Occupied bins over everything drawn.
    let (mut lo, mut hi) = (usize::MAX, 0);
    for p in &picked {
        for l in 0..depth {
            for (i, c) in hist(p, l).into_iter().flat_map(counts).enumerate() {
                if c > 0 {
                    lo = lo.min(i);
                    hi = hi.max(i);
                }
            }
        }
    }
    if picked.is_empty() || lo > hi {
        return placeholder(title, "no gradient histograms recorded");
    }
    let e0 = (Histogram::edge(lo) - 0.5).floor() as i32;
    let e1 = (Histogram::edge(hi + 1) + 0.5).ceil() as i32;

    let mut svg = Svg::new(title, W, H);
    let outer = Area::standard(20.0);
    let gap = 14.0;
    let k = picked.len();
    let pw = (outer.w - gap * (k - 1) as f64) / k as f64;
    // Rows leave 0.8 of a row on top for the last ridge's peak.
    let row = outer.h / (depth as f64 + 0.8);
    let ridge = (row * 1.8).min(outer.h / 2.0);
    for (j, p) in picked.iter().enumerate() {
        let a = Area {
            x: outer.x + j as f64 * (pw + gap),
            w: pw,
            ..outer
        };
        let sx = Scale::log10(e0 as f64, e1 as f64, a.x, a.right());
        svg.text(
            a.x + a.w / 2.0,
            a.y - 6.0,
            &format!("step {}", p.step),
            "middle",
            12.0,
        );
        let ticks: Ticks = thin(decade_ticks(e0, e1), pw);
        svg.x_axis(&a, &sx, &ticks, "", true);
        svg.raw("<g class=\"ridges\">\n");
        for l in (0..depth).rev() {
            let Some(h) = hist(p, l) else { continue };
            let peak = counts(h).max().unwrap_or(0);
            if peak == 0 {
                continue;
            }
            let base = a.bottom() - l as f64 * row;
            let mut pts = vec![(a.x, base)];
            for (i, c) in counts(h)
                .enumerate()
                .take(hi + 2)
                .skip(lo.saturating_sub(1))
            {
                let centre = 10f64.powf(Histogram::edge(i) + BIN_WIDTH / 2.0);
                if let Some(x) = sx.at_clamped(centre) {
                    pts.push((x, base - ridge * c as f64 / peak as f64));
                }
            }
            pts.push((a.right(), base));
            svg.polygon_outlined(&pts, &color::layer(l, depth), 0.85, "#ffffff");
        }
        svg.raw("</g>\n");
        if j == 0 {
            let sy = Scale::linear(0.0, depth as f64 + 0.8, a.bottom(), a.y);
            let every = depth.div_ceil(10).max(1);
            let ticks: Ticks = (0..depth)
                .filter(|l| l % every == 0 && depth - 1 - l >= every || *l == depth - 1)
                .map(|l| (l as f64, l.to_string()))
                .collect();
            svg.y_axis(&a, &sy, &ticks, "layer (input side at bottom)", false);
        }
    }
    svg.text(
        outer.x + outer.w / 2.0,
        outer.bottom() + 36.0,
        "|∂L/∂W| per entry (log scale)",
        "middle",
        12.0,
    );
    svg.finish()
}

/// Every other tick until about one per 40 units of width.
fn thin(mut ticks: Ticks, width: f64) -> Ticks {
    let most = (width / 40.0).max(2.0) as usize;
    while ticks.len() > most {
        ticks = ticks.into_iter().step_by(2).collect();
    }
    ticks
}
