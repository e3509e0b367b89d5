//! Hand-written SVG: a string builder with fixed number formatting and
//! escaped text, linear and log10 scales, ticks, axes and legends.
//!
//! Output is deterministic: coordinates carry at most two decimals
//! ([`num`]), attributes come in a fixed order, and nothing depends on the
//! clock or on hash order.

use super::color::{GRID, INK};

/// Width of a standard figure's viewBox.
pub const W: f64 = 640.0;
/// Height of a standard figure's viewBox.
pub const H: f64 = 360.0;
/// The family every figure names; the PNG export bundles it.
pub const FONT_FAMILY: &str = "DejaVu Sans";
/// The namespace attribute: standalone SVG needs it, inline SVG in HTML
/// does not (the page drops it so it names no URL at all).
pub const XMLNS: &str = " xmlns=\"http://www.w3.org/2000/svg\"";

/// A number for a coordinate or attribute: at most two decimals, trailing
/// zeros dropped, no `-0`; non-finite values become `0` (callers skip them
/// before they get here).
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` in lines of at most `fit` characters, broken at spaces (a word
/// longer than a line is broken inside it).
pub fn wrap(s: &str, fit: usize) -> Vec<String> {
    let fit = fit.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let room = fit.saturating_sub(line.chars().count() + usize::from(!line.is_empty()));
        if word.len() > room && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > fit {
            let rest = word.split_off(fit);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word);
    }
    lines.push(line);
    lines
}

/// `10^k` with a superscript exponent (`10⁻³`).
pub fn pow10_label(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUP[(d - b'0') as usize]);
    }
    s
}

/// A map from data to viewBox coordinates, linear or in log10.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
    log: bool,
}

impl Scale {
    /// `[d0, d1]` onto `[r0, r1]`.
    pub fn linear(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Self {
            d0,
            d1,
            r0,
            r1,
            log: false,
        }
    }

    /// `[10^e0, 10^e1]` onto `[r0, r1]` in log10.
    pub fn log10(e0: f64, e1: f64, r0: f64, r1: f64) -> Self {
        Self {
            log: true,
            ..Self::linear(e0, e1, r0, r1)
        }
    }

    /// Where `v` goes; `None` for non-finite values (and `v <= 0` on a log
    /// scale).
    pub fn at(&self, v: f64) -> Option<f64> {
        let v = if self.log { v.log10() } else { v };
        v.is_finite()
            .then(|| self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0))
    }

    /// Like [`Scale::at`], clamped to the range.
    pub fn at_clamped(&self, v: f64) -> Option<f64> {
        let (lo, hi) = (self.r0.min(self.r1), self.r0.max(self.r1));
        self.at(v).map(|p| p.clamp(lo, hi))
    }
}

/// Tick positions and labels.
pub type Ticks = Vec<(f64, String)>;

/// About `n` round ticks (1, 2 or 5 times a power of ten) in `[lo, hi]`.
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Ticks {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![(lo, tick_label(lo, 1.0))];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            (v, tick_label(v, step))
        })
        .collect()
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 3.0) as usize;
    let s = format!("{v:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        Some(rest) => format!("−{rest}"),
        None => s,
    }
}

/// Ticks at powers of ten from `10^lo` to `10^hi`, thinned to at most
/// eight; the values are the powers themselves (for a log10 [`Scale`]).
pub fn decade_ticks(lo: i32, hi: i32) -> Ticks {
    let span = (hi - lo).max(0);
    let stride = [1, 2, 3, 5, 10, 20, 50]
        .into_iter()
        .find(|s| span / s < 8)
        .unwrap_or(100);
    (lo..=hi)
        .filter(|k| k.rem_euclid(stride) == 0)
        .map(|k| (10f64.powi(k), pow10_label(k)))
        .collect()
}

/// Whole decades covering `values` (positive, finite ones), at least `min_span`
/// wide; `None` when there is none.
pub fn decade_range(values: impl IntoIterator<Item = f64>, min_span: i32) -> Option<(i32, i32)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::log10)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let (mut lo, mut hi) = (lo.floor() as i32, hi.ceil() as i32);
    while hi - lo < min_span {
        hi += 1;
        if hi - lo < min_span {
            lo -= 1;
        }
    }
    Some((lo, hi))
}

/// The plotting area of a chart, in viewBox units.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Area {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// The standard area of a [`W`] x [`H`] chart, leaving `right` units
    /// for a legend.
    pub fn standard(right: f64) -> Self {
        Area {
            x: 72.0,
            y: 44.0,
            w: W - 72.0 - right,
            h: H - 44.0 - 52.0,
        }
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

impl Svg {
    /// A `w` x `h` document titled `title` on a white background.
    pub fn new(title: &str, w: f64, h: f64) -> Self {
        let mut out = format!(
            "<svg{XMLNS} viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
             font-family=\"'{FONT_FAMILY}', sans-serif\" font-size=\"12\" fill=\"{INK}\" \
             role=\"img\">\n<title>{}</title>\n",
            escape(title),
            w = num(w),
            h = num(h),
        );
        out.push_str(&format!(
            "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n",
            num(w),
            num(h)
        ));
        let mut svg = Svg { out };
        svg.text(16.0, 22.0, title, "start", 14.0);
        svg
    }

    /// Appends raw markup (already escaped).
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        self.out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"/>\n",
            num(x),
            num(y),
            num(w),
            num(h)
        ));
    }

    /// A filled rectangle with an opacity.
    pub fn rect_alpha(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, opacity: f64) {
        self.out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\"/>\n",
            num(x),
            num(y),
            num(w),
            num(h),
            num(opacity)
        ));
    }

    /// An unfilled rectangle outline.
    pub fn frame(&mut self, a: &Area, stroke: &str) {
        self.out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"1\"/>\n",
            num(a.x),
            num(a.y),
            num(a.w),
            num(a.h)
        ));
    }

    /// A straight line; `dash` like `"4 3"`.
    pub fn line(&mut self, p: (f64, f64), q: (f64, f64), stroke: &str, width: f64, dash: &str) {
        self.out.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"{}/>\n",
            num(p.0),
            num(p.1),
            num(q.0),
            num(q.1),
            num(width),
            dash_attr(dash)
        ));
    }

    /// An open polyline (nothing for fewer than one point).
    pub fn polyline(&mut self, pts: &[(f64, f64)], stroke: &str, width: f64, dash: &str) {
        if pts.is_empty() {
            return;
        }
        self.out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{}/>\n",
            points(pts),
            num(width),
            dash_attr(dash)
        ));
    }

    /// A filled polygon.
    pub fn polygon(&mut self, pts: &[(f64, f64)], fill: &str, opacity: f64) {
        if pts.len() < 3 {
            return;
        }
        self.out.push_str(&format!(
            "<polygon points=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\"/>\n",
            points(pts),
            num(opacity)
        ));
    }

    /// A filled polygon with a thin outline.
    pub fn polygon_outlined(&mut self, pts: &[(f64, f64)], fill: &str, opacity: f64, stroke: &str) {
        if pts.len() < 3 {
            return;
        }
        self.out.push_str(&format!(
            "<polygon points=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\" stroke=\"{stroke}\" stroke-width=\"0.8\"/>\n",
            points(pts),
            num(opacity)
        ));
    }

    /// A dot.
    pub fn circle(&mut self, c: (f64, f64), r: f64, fill: &str) {
        self.out.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"/>\n",
            num(c.0),
            num(c.1),
            num(r)
        ));
    }

    /// Text (escaped); `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, size: f64) {
        self.out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"{}\">{}</text>\n",
            num(x),
            num(y),
            num(size),
            escape(s)
        ));
    }

    /// Text turned 90 degrees counter-clockwise about `(x, y)`, centred.
    pub fn text_up(&mut self, x: f64, y: f64, s: &str, size: f64) {
        self.out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"{}\" transform=\"rotate(-90 {x} {y})\">{}</text>\n",
            num(size),
            escape(s),
            x = num(x),
            y = num(y),
        ));
    }

    /// A bottom axis: line, ticks, labels, grid and its label.
    pub fn x_axis(&mut self, a: &Area, s: &Scale, ticks: &Ticks, label: &str, grid: bool) {
        for (v, t) in ticks {
            let Some(x) = s.at(*v) else { continue };
            if grid {
                self.line((x, a.y), (x, a.bottom()), GRID, 1.0, "");
            }
            self.line((x, a.bottom()), (x, a.bottom() + 4.0), INK, 1.0, "");
            self.text(x, a.bottom() + 17.0, t, "middle", 11.0);
        }
        self.line((a.x, a.bottom()), (a.right(), a.bottom()), INK, 1.0, "");
        self.text(a.x + a.w / 2.0, a.bottom() + 36.0, label, "middle", 12.0);
    }

    /// A left axis: line, ticks, labels, grid and its label.
    pub fn y_axis(&mut self, a: &Area, s: &Scale, ticks: &Ticks, label: &str, grid: bool) {
        for (v, t) in ticks {
            let Some(y) = s.at(*v) else { continue };
            if grid {
                self.line((a.x, y), (a.right(), y), GRID, 1.0, "");
            }
            self.line((a.x - 4.0, y), (a.x, y), INK, 1.0, "");
            self.text(a.x - 7.0, y + 4.0, t, "end", 11.0);
        }
        self.line((a.x, a.y), (a.x, a.bottom()), INK, 1.0, "");
        self.text_up(a.x - 50.0, a.y + a.h / 2.0, label, 12.0);
    }

    /// A vertical legend with its top-left corner at `(x, y)`; labels are
    /// cut to fit before the right edge of a [`W`]-wide figure.
    pub fn legend(&mut self, x: f64, y: f64, entries: &[(String, String, Mark)]) {
        // DejaVu Sans at 11 units averages about 6.7 units per character.
        // A label too long for the margin wraps onto more lines (never cut).
        let fit = ((W - x - 28.0) / 6.7).max(4.0) as usize;
        let mut yy = y;
        for (label, color, mark) in entries {
            match mark {
                Mark::Line => self.line((x, yy), (x + 18.0, yy), color, 2.0, ""),
                Mark::Dashed => self.line((x, yy), (x + 18.0, yy), color, 2.0, "4 3"),
            }
            let lines = wrap(label, fit);
            for (k, line) in lines.iter().enumerate() {
                self.text(x + 24.0, yy + 4.0 + k as f64 * 13.0, line, "start", 11.0);
            }
            yy += 17.0 + (lines.len().max(1) - 1) as f64 * 13.0;
        }
    }

    /// A centred message in an otherwise empty chart.
    pub fn message(&mut self, s: &str) {
        self.text(W / 2.0, H / 2.0, s, "middle", 13.0);
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

fn points(pts: &[(f64, f64)]) -> String {
    let mut s = String::with_capacity(pts.len() * 12);
    for (i, (x, y)) in pts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&num(*x));
        s.push(',');
        s.push_str(&num(*y));
    }
    s
}

/// A chart with only a title and a message (no data to draw).
pub fn placeholder(title: &str, message: &str) -> String {
    let mut svg = Svg::new(title, W, H);
    svg.message(message);
    svg.finish()
}

/// Splits a series at its gaps (`None`) into runs of points.
pub fn segments(pts: impl IntoIterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for p in pts {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None if out.last().is_some_and(|s| !s.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// At most `max` points of `(x, y)`: consecutive points are averaged in
/// bins (the mean of x; the mean of the finite y, geometric when `log`).
/// A bin with no finite y becomes a gap (`NaN`).
pub fn bin_mean(pts: &[(f64, f64)], max: usize, log: bool) -> Vec<(f64, f64)> {
    if pts.len() <= max {
        return pts.to_vec();
    }
    let size = pts.len().div_ceil(max.max(1));
    pts.chunks(size)
        .map(|c| {
            let x = c.iter().map(|p| p.0).sum::<f64>() / c.len() as f64;
            let ys: Vec<f64> = c
                .iter()
                .map(|p| if log { p.1.log10() } else { p.1 })
                .filter(|y| y.is_finite())
                .collect();
            let y = if ys.is_empty() {
                f64::NAN
            } else {
                ys.iter().sum::<f64>() / ys.len() as f64
            };
            (x, if log { 10f64.powf(y) } else { y })
        })
        .collect()
}

/// Draws `pts` through `sx`/`sy` as lines broken at non-drawable points.
pub fn draw_series(
    svg: &mut Svg,
    pts: &[(f64, f64)],
    sx: &Scale,
    sy: &Scale,
    stroke: &str,
    width: f64,
    dash: &str,
) {
    let segs = segments(
        pts.iter()
            .map(|&(x, y)| Some((sx.at(x)?, sy.at_clamped(y)?))),
    );
    for s in segs {
        if s.len() == 1 {
            svg.circle(s[0], width.max(1.5), stroke);
        } else {
            svg.polyline(&s, stroke, width, dash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: legends cut labels ("#3 sigmoid+bn (ba…"); they wrap.
    #[test]
    fn labels_wrap_at_spaces_and_lose_nothing() {
        assert_eq!(
            wrap("#3 sigmoid+bn (batch)", 15),
            ["#3 sigmoid+bn", "(batch)"]
        );
        assert_eq!(wrap("short", 15), ["short"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        for (s, fit) in [("#2 relu+he (held-out accuracy)", 12), ("a b c", 1)] {
            let lines = wrap(s, fit);
            assert!(lines.iter().all(|l| l.chars().count() <= fit), "{lines:?}");
            assert_eq!(lines.join(" ").replace(' ', ""), s.replace(' ', ""));
        }
    }

    #[test]
    fn numbers_have_at_most_two_decimals() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(10.5), "10.5");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(100.0), "100");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;"
        );
    }

    #[test]
    fn superscript_powers() {
        assert_eq!(pow10_label(-12), "10⁻¹²");
        assert_eq!(pow10_label(0), "10⁰");
        assert_eq!(pow10_label(3), "10³");
    }

    #[test]
    fn round_linear_ticks() {
        let t: Vec<String> = linear_ticks(0.0, 1.0, 5).into_iter().map(|t| t.1).collect();
        assert_eq!(t, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t: Vec<f64> = linear_ticks(0.0, 300.0, 6)
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(t, [0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0]);
    }

    #[test]
    fn decades_thin_out() {
        assert_eq!(decade_ticks(-3, 0).len(), 4);
        assert!(decade_ticks(-40, 2).len() <= 8);
        assert_eq!(decade_range([2e-5, 0.0, 3.0, f64::NAN], 1), Some((-5, 1)));
        assert_eq!(decade_range([0.5], 2), Some((-1, 1)));
        assert_eq!(decade_range([0.0], 1), None);
    }

    #[test]
    fn log_scale_maps_decades_evenly() {
        let s = Scale::log10(-2.0, 0.0, 100.0, 0.0);
        assert_eq!(s.at(0.01), Some(100.0));
        assert_eq!(s.at(0.1), Some(50.0));
        assert_eq!(s.at(0.0), None);
    }

    #[test]
    fn series_split_at_gaps_and_bin() {
        let s = segments([
            Some((0.0, 0.0)),
            None,
            None,
            Some((1.0, 1.0)),
            Some((2.0, 2.0)),
        ]);
        assert_eq!(s.len(), 2);
        let b = bin_mean(&[(0.0, 1.0), (1.0, 100.0), (2.0, 1.0), (3.0, 1.0)], 2, true);
        assert_eq!(b.len(), 2);
        assert!((b[0].1 - 10.0).abs() < 1e-9);
    }
}
