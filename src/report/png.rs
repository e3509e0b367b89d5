//! PNG export: each figure's SVG rendered by `resvg`, with text set in the
//! DejaVu Sans bundled under `assets/fonts/` (no system fonts are read, so
//! a bare machine renders the same pixels as a desktop).

use super::svg::FONT_FAMILY;
use super::Figure;
use crate::{Error, Result};
use resvg::{tiny_skia, usvg};
use std::path::{Path, PathBuf};

/// Pixels per viewBox unit: a 640 x 360 figure becomes 1280 x 720.
pub const PNG_SCALE: f32 = 2.0;

/// DejaVu Sans 2.37 (Bitstream Vera license; see assets/fonts/).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn options() -> usvg::Options<'static> {
    let mut opt = usvg::Options {
        font_family: FONT_FAMILY.to_string(),
        ..usvg::Options::default()
    };
    let db = opt.fontdb_mut();
    db.load_font_data(FONT.to_vec());
    db.set_sans_serif_family(FONT_FAMILY);
    opt
}

/// Renders one SVG document to PNG bytes at [`PNG_SCALE`]; `Err` carries
/// what went wrong.
fn render(svg: &str, opt: &usvg::Options<'_>) -> std::result::Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, opt).map_err(|e| format!("cannot parse SVG: {e}"))?;
    let size = tree.size();
    let w = (size.width() * PNG_SCALE).round() as u32;
    let h = (size.height() * PNG_SCALE).round() as u32;
    let mut pixmap =
        tiny_skia::Pixmap::new(w, h).ok_or_else(|| format!("bad image size {w}x{h}"))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("cannot encode PNG: {e}"))
}

/// Writes each figure to `dir/<id>.png` (creating `dir`), returning the
/// paths in figure order.
///
/// # Errors
/// [`Error::Io`] when `dir` or a file cannot be written; [`Error::BadData`]
/// naming the PNG when its SVG cannot be rendered.
pub fn write_pngs(figures: &[Figure], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let opt = options();
    let mut out = Vec::with_capacity(figures.len());
    for f in figures {
        let path = dir.join(format!("{}.png", f.id));
        let bytes = render(&f.svg, &opt).map_err(|reason| Error::BadData {
            path: path.clone(),
            reason,
        })?;
        std::fs::write(&path, bytes).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_with_the_bundled_font() {
        let opt = options();
        assert!(opt
            .fontdb
            .faces()
            .any(|f| f.families.iter().any(|(name, _)| name == FONT_FAMILY)));
        let blank = super::super::svg::Svg::new("", 100.0, 40.0).finish();
        let mut with_text = super::super::svg::Svg::new("", 100.0, 40.0);
        with_text.text(10.0, 30.0, "10⁻³ ∂L/∂W", "start", 14.0);
        let a = render(&blank, &opt).unwrap();
        let b = render(&with_text.finish(), &opt).unwrap();
        let (pa, pb) = (
            tiny_skia::Pixmap::decode_png(&a).unwrap(),
            tiny_skia::Pixmap::decode_png(&b).unwrap(),
        );
        assert_eq!((pb.width(), pb.height()), (200, 80));
        let dark = |p: &tiny_skia::Pixmap| p.pixels().iter().filter(|c| c.red() < 128).count();
        assert_eq!(dark(&pa), 0);
        assert!(dark(&pb) > 100, "text drew {} dark pixels", dark(&pb));
    }
}
