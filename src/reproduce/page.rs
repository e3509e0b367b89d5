//! A reproduction's page: one self-contained HTML document (inline CSS
//! and SVG, no script, no URL) with the setup, the paper's figures beside
//! ours, the checks and the figures.

use super::Outcome;
use crate::report::{escape, figure_html, PAGE_CSS};
use std::fmt::Write;

/// The page of `outcome`.
pub fn render_page(outcome: &Outcome) -> String {
    let mut h = String::new();
    let title = format!("gradscope reproduce {}", outcome.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{t}</title>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n\
         <p class=\"meta\">{paper}<br/>gradscope {v} · {mode} mode · {secs:.0} s</p>\n\
         <section id=\"summary\"><p class=\"summary\">{verdict}</p></section>\n",
        t = escape(&title),
        paper = escape(&outcome.paper),
        v = env!("CARGO_PKG_VERSION"),
        mode = outcome.mode.name(),
        secs = outcome.seconds,
        verdict = escape(&outcome.verdict()),
    );
    h.push_str("<section id=\"setup\">\n<h2>Setup</h2>\n<ul>\n");
    for line in &outcome.setup {
        let _ = writeln!(h, "<li>{}</li>", escape(line));
    }
    h.push_str("</ul>\n</section>\n<section id=\"checks\">\n<h2>What the paper shows</h2>\n<ul>\n");
    for c in &outcome.checks {
        let mark = if c.holds { "holds" } else { "does not hold" };
        let _ = writeln!(
            h,
            "<li><strong>{}</strong>: {mark} ({})</li>",
            escape(&c.claim),
            escape(&c.evidence)
        );
    }
    h.push_str("</ul>\n</section>\n");
    for t in &outcome.tables {
        let _ = write!(h, "<section>\n<h2>{}</h2>\n<table>\n<tr>", escape(&t.title));
        for c in &t.columns {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>\n");
        for row in &t.rows {
            h.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let class = if i > 0 { " class=\"num\"" } else { "" };
                let _ = write!(h, "<td{class}>{}</td>", escape(cell));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n</section>\n");
    }
    if !outcome.figures.is_empty() {
        h.push_str("<section id=\"figures\">\n<h2>Figures</h2>\n");
        for f in &outcome.figures {
            figure_html(&mut h, f);
        }
        h.push_str("</section>\n");
    }
    if !outcome.notes.is_empty() {
        h.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
        for n in &outcome.notes {
            let _ = writeln!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>\n</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::{Check, Table};

    #[test]
    fn the_page_escapes_text_and_holds_tables_checks_and_figures() {
        let mut t = Table::new("Test error <%>", &["net", "ours"]);
        t.row(vec!["a & b".into(), "1.5".into()]);
        let outcome = Outcome {
            name: "x2000".into(),
            paper: "Someone 2000".into(),
            tables: vec![t],
            checks: vec![Check::new("a < b", true, "1 < 2")],
            figures: vec![crate::report::Figure {
                id: "fig1".into(),
                title: "t".into(),
                caption: "c".into(),
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into(),
            }],
            ..Outcome::default()
        };
        let page = render_page(&outcome);
        assert!(page.contains("<h2>Test error &lt;%&gt;</h2>"));
        assert!(page.contains("<td>a &amp; b</td><td class=\"num\">1.5</td>"));
        assert!(page.contains("<strong>a &lt; b</strong>: holds (1 &lt; 2)"));
        assert!(page.contains("<figure id=\"fig-fig1\">"));
        assert!(!page.contains("http://"), "no URL in the page");
        assert!(page.contains("1 of 1 checks hold"));
    }
}
