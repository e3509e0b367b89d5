//! A sweep's report page: what each class counts, the trainability map
//! over two of the sweep's axes (small multiples over a third), every run
//! in parallel coordinates, and the table of runs with the rule that
//! classified each. Self-contained like the run report ([`super::html`]).

use super::html::{figure, CSS};
use super::svg::escape;
use super::trainability::{self, MapAxes, SweepRun, CLASSES};
use super::Figure;
use std::fmt::Write;

/// One run's row in the table: its name, class, the rule that decided it.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// The run's store id.
    pub id: i64,
    /// The run's name (`sweep/depth=10,activation=tanh,seed=1`).
    pub name: String,
    /// The rule (finding) that classified it.
    pub rule: String,
}

/// A sweep, as its page reads it.
#[derive(Clone, Debug)]
pub struct SweepView<'a> {
    /// The sweep's name.
    pub name: &'a str,
    /// Its axes' keys, in the sweep's order.
    pub axes: &'a [String],
    /// Its runs (cell, class, accuracy), classified ones only.
    pub runs: &'a [SweepRun],
    /// The same runs' names and rules, in the same order.
    pub rows: &'a [SweepRow],
    /// Which axes the map puts where.
    pub map: MapAxes<'a>,
}

/// The page's figures: the map and the parallel coordinates.
pub fn sweep_figures(v: &SweepView<'_>) -> Vec<Figure> {
    let keys: Vec<&str> = v.axes.iter().map(String::as_str).collect();
    let map_title = format!("Trainability map: {} x {}", v.map.y, v.map.x);
    vec![
        Figure {
            id: "sweep-map".into(),
            title: map_title.clone(),
            caption: format!(
                "Each cell: the majority class of its runs (over seeds{}), shaded by their mean \
                 held-out accuracy (pale: low); a count such as 2/3 where they disagree.",
                if v.axes.len() > 2 + usize::from(v.map.facet.is_some()) {
                    " and the axes not drawn"
                } else {
                    ""
                }
            ),
            svg: trainability::render(&map_title, v.runs, &v.map),
        },
        Figure {
            id: "sweep-parallel".into(),
            title: "Every run across the axes".into(),
            caption: "One line per run through its value on each axis and its held-out accuracy, \
                      coloured by class: the axes where the colours part are the ones that decide."
                .into(),
            svg: trainability::parallel("Every run across the axes", v.runs, &keys),
        },
    ]
}

/// The whole page.
pub fn render_sweep_html(v: &SweepView<'_>) -> String {
    let mut h = String::new();
    let title = format!("gradscope sweep: {}", v.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n\
         <p class=\"meta\">gradscope {} · {} classified runs over {}</p>\n",
        env!("CARGO_PKG_VERSION"),
        v.runs.len(),
        escape(&v.axes.join(", ")),
        t = escape(&title),
    );
    let counts: Vec<String> = CLASSES
        .iter()
        .map(|(c, _)| {
            let n = v.runs.iter().filter(|r| r.class == *c).count();
            format!("{c} {n}")
        })
        .collect();
    let _ = writeln!(
        h,
        "<section id=\"summary\"><p class=\"summary\">{}</p></section>",
        escape(&counts.join(" · "))
    );
    for f in sweep_figures(v) {
        figure(&mut h, &f);
    }
    h.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n<table>\n<tr><th>run</th>");
    for a in v.axes {
        let _ = write!(h, "<th>{}</th>", escape(a));
    }
    h.push_str("<th>class</th><th>rule</th><th>held-out accuracy</th></tr>\n");
    for (run, row) in v.runs.iter().zip(v.rows) {
        let _ = write!(h, "<tr><td>{} {}</td>", row.id, escape(&row.name));
        for a in v.axes {
            let value = run
                .cell
                .iter()
                .find(|(k, _)| k == a)
                .map_or("", |(_, v)| v.as_str());
            let _ = write!(h, "<td>{}</td>", escape(value));
        }
        let acc = if run.accuracy.is_finite() {
            format!("{:.2}%", 100.0 * run.accuracy)
        } else {
            "–".into()
        };
        let _ = writeln!(
            h,
            "<td>{}</td><td>{}</td><td class=\"num\">{acc}</td></tr>",
            escape(&run.class),
            escape(&row.rule)
        );
    }
    h.push_str("</table>\n</section>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_counts_classes_and_lists_every_run() {
        let runs: Vec<SweepRun> = ["trains", "vanishes", "trains"]
            .iter()
            .enumerate()
            .map(|(i, c)| SweepRun {
                cell: vec![
                    ("model.depth".into(), ["5", "40", "5"][i].into()),
                    (
                        "model.activation".into(),
                        ["relu", "sigmoid", "tanh"][i].into(),
                    ),
                ],
                class: (*c).into(),
                accuracy: [0.9, 0.1, 0.8][i],
            })
            .collect();
        let rows: Vec<SweepRow> = (0..3)
            .map(|i| SweepRow {
                id: i + 1,
                name: format!("s/{i}"),
                rule: if i == 1 {
                    "vanishing_gradient".into()
                } else {
                    "none".into()
                },
            })
            .collect();
        let axes = ["model.depth".to_string(), "model.activation".to_string()];
        let v = SweepView {
            name: "s",
            axes: &axes,
            runs: &runs,
            rows: &rows,
            map: MapAxes {
                x: "model.activation",
                y: "model.depth",
                ..MapAxes::default()
            },
        };
        let page = render_sweep_html(&v);
        assert!(page.contains("trains 2 · vanishes 1 · explodes 0"));
        assert!(
            page.contains("id=\"fig-sweep-map\"") && page.contains("id=\"fig-sweep-parallel\"")
        );
        assert_eq!(page.matches("<tr><td>").count(), 3);
        assert!(page.contains("<td>vanishing_gradient</td><td class=\"num\">10.00%</td>"));
    }
}
