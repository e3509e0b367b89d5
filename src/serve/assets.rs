//! The page's files, embedded in the binary: served by exact name, so no
//! request can reach a file on disk. uPlot (MIT, its licence beside it)
//! draws the line charts.

/// Name, content type and bytes of each file.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "uplot.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/uplot.js"),
    ),
    (
        "uplot.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/uplot.css"),
    ),
    (
        "LICENSE-uPlot.txt",
        "text/plain; charset=utf-8",
        include_bytes!("assets/LICENSE-uPlot.txt"),
    ),
];

/// The content type and bytes of the file called `name`, if there is one.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, kind, bytes)| (kind, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_by_exact_name_only() {
        assert!(asset("index.html").unwrap().0.starts_with("text/html"));
        assert!(!asset("uplot.js").unwrap().1.is_empty());
        for name in [
            "../Cargo.toml",
            "assets/app.js",
            "app.js/",
            "",
            "APP.JS",
            "%2e%2e",
        ] {
            assert!(asset(name).is_none(), "{name}");
        }
    }

    #[test]
    fn the_page_loads_nothing_from_the_network() {
        let page = std::str::from_utf8(asset("index.html").unwrap().1).unwrap();
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "a CDN link in the page"
        );
        assert!(page.contains("uplot.js") && page.contains("app.js"));
    }
}
