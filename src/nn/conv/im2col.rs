//! Unfolding an NHWC batch into patch rows (`im2col`) and folding the
//! rows' gradients back (`col2im`), the two copies around a convolution's
//! products.
//!
//! Row `(b, oy, ox)` of the patch matrix holds the window of output pixel
//! `(oy, ox)` of example `b`: for each kernel offset `(ky, kx)` in order,
//! the input pixel's `c` channels (zeros in the padding). Channels-last
//! makes each offset one contiguous copy of `c` values, and the weight's
//! rows the same `(ky, kx, c)` order.

use super::shape::{Image, Window};
use crate::tensor::Scalar;

/// Fills `cols` (`batch * oh * ow` rows of `k * k * c`) from `x`
/// (`batch` images of shape `input`, NHWC).
pub fn im2col<T: Scalar>(x: &[T], input: Image, window: Window, out: Image, cols: &mut [T]) {
    let (c, k) = (input.c, window.kernel);
    let row_len = k * k * c;
    for (r, row) in cols.chunks_exact_mut(row_len).enumerate() {
        let (b, pixel) = (r / out.pixels(), r % out.pixels());
        let (oy, ox) = (pixel / out.w, pixel % out.w);
        let image = &x[b * input.len()..(b + 1) * input.len()];
        for ky in 0..k {
            let iy = window.source(oy, ky, input.h);
            for kx in 0..k {
                let dst = &mut row[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                match (iy, window.source(ox, kx, input.w)) {
                    (Some(iy), Some(ix)) => {
                        let at = (iy * input.w + ix) * c;
                        dst.copy_from_slice(&image[at..at + c]);
                    }
                    _ => dst.fill(T::zero()),
                }
            }
        }
    }
}

/// Adds the patch rows' gradients `cols` back onto `dx` (zeroed first):
/// each input pixel gets the sum over every window that read it.
pub fn col2im<T: Scalar>(cols: &[T], input: Image, window: Window, out: Image, dx: &mut [T]) {
    dx.fill(T::zero());
    let (c, k) = (input.c, window.kernel);
    let row_len = k * k * c;
    for (r, row) in cols.chunks_exact(row_len).enumerate() {
        let (b, pixel) = (r / out.pixels(), r % out.pixels());
        let (oy, ox) = (pixel / out.w, pixel % out.w);
        let image = &mut dx[b * input.len()..(b + 1) * input.len()];
        for ky in 0..k {
            let Some(iy) = window.source(oy, ky, input.h) else {
                continue;
            };
            for kx in 0..k {
                let Some(ix) = window.source(ox, kx, input.w) else {
                    continue;
                };
                let at = (iy * input.w + ix) * c;
                let src = &row[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                for (d, s) in image[at..at + c].iter_mut().zip(src) {
                    *d = *d + *s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x[b, y, x, c]` of an NHWC buffer, 0 outside the image.
    fn at(x: &[f64], s: Image, b: usize, y: isize, xx: isize, c: usize) -> f64 {
        if y < 0 || xx < 0 || y >= s.h as isize || xx >= s.w as isize {
            return 0.0;
        }
        x[((b * s.h + y as usize) * s.w + xx as usize) * s.c + c]
    }

    #[test]
    fn patches_are_the_windows_and_col2im_is_the_adjoint() {
        let input = Image::new(2, 5, 4);
        let window = Window::new(3, 2, 1);
        let out = window.out_image(input, 1).unwrap();
        let batch = 2;
        let x: Vec<f64> = (0..batch * input.len())
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let row_len = 9 * input.c;
        let mut cols = vec![0.0; batch * out.pixels() * row_len];
        im2col(&x, input, window, out, &mut cols);
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let r = (b * out.h + oy) * out.w + ox;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            for c in 0..input.c {
                                let y = (oy * 2 + ky) as isize - 1;
                                let xx = (ox * 2 + kx) as isize - 1;
                                let got = cols[r * row_len + (ky * 3 + kx) * input.c + c];
                                assert_eq!(got, at(&x, input, b, y, xx, c));
                            }
                        }
                    }
                }
            }
        }
        // <im2col(x), g> = <x, col2im(g)> for any g: col2im is the adjoint.
        let g: Vec<f64> = (0..cols.len()).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut dx = vec![1.0; x.len()];
        col2im(&g, input, window, out, &mut dx);
        let lhs: f64 = cols.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
