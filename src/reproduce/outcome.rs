//! What a reproduction found: its setup beside the paper's, tables of the
//! paper's figures beside ours, the checks of what the paper shows, and
//! figures; written as text (the terminal), Markdown (the docs) or JSON.

use super::Mode;
use crate::report::Figure;
use serde::Serialize;
use std::fmt::Write;

/// A table: a title, column heads and rows of cells, already formatted.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Table {
    /// What it shows.
    pub title: String,
    /// The column heads.
    pub columns: Vec<String>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with `columns`.
    pub fn new(title: &str, columns: &[&str]) -> Self {
        Self {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    ///
    /// # Panics
    /// If the row's length is not the number of columns.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.columns.len(), "{}", self.title);
        self.rows.push(cells);
    }
}

/// One qualitative claim of the paper, checked on our runs.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The claim (`Tanh N beats Tanh on Shapeset`).
    pub claim: String,
    /// Whether our runs show it.
    pub holds: bool,
    /// The figures that decided it.
    pub evidence: String,
}

impl Check {
    /// A check of `claim`, decided by `holds`, with `evidence`.
    pub fn new(claim: impl Into<String>, holds: bool, evidence: impl Into<String>) -> Self {
        Self {
            claim: claim.into(),
            holds,
            evidence: evidence.into(),
        }
    }
}

/// A reproduction's result.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The reproduction's name.
    pub name: String,
    /// The paper.
    pub paper: String,
    /// Quick or full.
    pub mode: Mode,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The setup, ours against the paper's, one line each (reductions
    /// stated).
    pub setup: Vec<String>,
    /// The paper's figures beside ours.
    pub tables: Vec<Table>,
    /// What the paper shows, checked.
    pub checks: Vec<Check>,
    /// Remarks: what does not match, and why.
    pub notes: Vec<String>,
    /// Figures (not in the JSON; the page and `--png` write them).
    #[serde(skip)]
    pub figures: Vec<Figure>,
    /// The sweeps recorded, by id and name.
    pub sweeps: Vec<(i64, String)>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            name: String::new(),
            paper: String::new(),
            mode: Mode::Quick,
            seconds: 0.0,
            setup: Vec::new(),
            tables: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            figures: Vec::new(),
            sweeps: Vec::new(),
        }
    }
}

impl Outcome {
    /// Whether every check holds.
    pub fn reproduced(&self) -> bool {
        self.checks.iter().all(|c| c.holds)
    }

    /// `3 of 4 checks hold`.
    pub fn verdict(&self) -> String {
        let n = self.checks.iter().filter(|c| c.holds).count();
        format!("{n} of {} checks hold", self.checks.len())
    }

    /// Plain text for the terminal: tables with aligned columns, then the
    /// checks (`[ok]` / `[NO]`).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} ({} mode, {:.0} s): {}\n",
            self.name,
            self.mode.name(),
            self.seconds,
            self.paper
        );
        for line in &self.setup {
            let _ = writeln!(s, "  {line}");
        }
        for t in &self.tables {
            let _ = write!(s, "\n{}\n{}", t.title, aligned(t));
        }
        s.push('\n');
        for c in &self.checks {
            let mark = if c.holds { "[ok]" } else { "[NO]" };
            let _ = writeln!(s, "{mark} {}: {}", c.claim, c.evidence);
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(s, "{}", self.verdict());
        s
    }

    /// Markdown for docs/REPRODUCTIONS.md: the setup as a list, tables,
    /// the checks as a list.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        for line in &self.setup {
            let _ = writeln!(s, "- {line}");
        }
        for t in &self.tables {
            let _ = write!(s, "\n**{}**\n\n{}", t.title, markdown(t));
        }
        s.push('\n');
        for c in &self.checks {
            let mark = if c.holds {
                "holds"
            } else {
                "**does not hold**"
            };
            let _ = writeln!(s, "- {}: {mark} ({})", c.claim, c.evidence);
        }
        s
    }
}

/// A table in aligned columns (widths in characters).
fn aligned(t: &Table) -> String {
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
    for row in &t.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 {
                let _ = write!(l, "  {cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(l, "  {}{cell}", " ".repeat(pad));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut s = line(&t.columns);
    for row in &t.rows {
        s.push_str(&line(row));
    }
    s
}

/// A table in Markdown (`|` in cells escaped).
fn markdown(t: &Table) -> String {
    let cell = |c: &String| c.replace('|', "\\|");
    let mut s = format!(
        "| {} |\n|{}\n",
        t.columns.iter().map(cell).collect::<Vec<_>>().join(" | "),
        " --- |".repeat(t.columns.len())
    );
    for row in &t.rows {
        let _ = writeln!(
            s,
            "| {} |",
            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        let mut t = Table::new("Test error (%)", &["net", "paper", "ours"]);
        t.row(vec!["Tanh N".into(), "15.60".into(), "21.3".into()]);
        t.row(vec!["Sigmoid | std".into(), "82.61".into(), "88.9".into()]);
        Outcome {
            name: "glorot2010".into(),
            tables: vec![t],
            checks: vec![
                Check::new("Sigmoid is worst", true, "88.9 > 21.3"),
                Check::new("Tanh N beats Tanh", false, "21.3 > 20.0"),
            ],
            ..Outcome::default()
        }
    }

    #[test]
    fn text_aligns_numbers_right_and_marks_failed_checks() {
        let text = outcome().to_text();
        assert!(text.contains("  net            paper  ours\n"), "{text}");
        assert!(text.contains("  Tanh N         15.60  21.3\n"), "{text}");
        assert!(
            text.contains("[NO] Tanh N beats Tanh: 21.3 > 20.0"),
            "{text}"
        );
        assert!(text.contains("[ok] Sigmoid is worst"), "{text}");
        assert!(text.ends_with("1 of 2 checks hold\n"), "{text}");
        assert!(!outcome().reproduced());
    }

    #[test]
    fn markdown_escapes_bars_and_has_one_separator_per_column() {
        let md = outcome().to_markdown();
        assert!(
            md.contains("| net | paper | ours |\n| --- | --- | --- |\n"),
            "{md}"
        );
        assert!(md.contains("| Sigmoid \\| std | 82.61 | 88.9 |"), "{md}");
        assert!(md.contains("- Tanh N beats Tanh: **does not hold** (21.3 > 20.0)"));
    }
}
