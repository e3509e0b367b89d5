//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`.
//!
//! By global norm: `n = sqrt(sum over every parameter of |g|^2)` (in f64);
//! when `n > max`, every gradient is scaled by `max / (n + 1e-6)`. The
//! pre-clip norm is returned: it is the figure to watch for exploding
//! gradients. By value: every entry clamped to `[-v, v]`.

use crate::nn::NamedParam;
use crate::tensor::Scalar;

/// The global L2 norm of all gradients, accumulated in f64.
pub fn global_grad_norm<T: Scalar>(params: &[NamedParam<'_, T>]) -> f64 {
    params
        .iter()
        .map(|p| p.param.grad.sum_sq_f64())
        .sum::<f64>()
        .sqrt()
}

/// Scales all gradients so their global norm is at most `max_norm`;
/// returns the norm before clipping.
pub fn clip_grad_norm<T: Scalar>(params: &mut [NamedParam<'_, T>], max_norm: f64) -> f64 {
    let norm = global_grad_norm(params);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let c = T::cast(coef);
        for p in params.iter_mut() {
            p.param
                .grad
                .as_mut_slice()
                .iter_mut()
                .for_each(|g| *g = *g * c);
        }
    }
    norm
}

/// Clamps every gradient entry to `[-value, value]`.
pub fn clip_grad_value<T: Scalar>(params: &mut [NamedParam<'_, T>], value: f64) {
    let (lo, hi) = (T::cast(-value), T::cast(value));
    for p in params.iter_mut() {
        p.param
            .grad
            .as_mut_slice()
            .iter_mut()
            .for_each(|g| *g = g.max(lo).min(hi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Param;
    use crate::tensor::Matrix;

    #[test]
    fn norm_clip_scales_to_max_and_returns_pre_clip_norm() {
        // grads (3, 4) and (12): global norm 13.
        let mut a = Param::new(Matrix::<f64>::zeros(1, 2));
        a.grad = Matrix::from_rows(&[vec![3.0, 4.0]]);
        let mut b = Param::new(Matrix::<f64>::zeros(1, 1));
        b.grad = Matrix::from_rows(&[vec![12.0]]);
        let mut ps = vec![
            NamedParam {
                path: "a".into(),
                param: &mut a,
            },
            NamedParam {
                path: "b".into(),
                param: &mut b,
            },
        ];
        assert_eq!(clip_grad_norm(&mut ps, 1.0), 13.0);
        assert!((global_grad_norm(&ps) - 1.0).abs() < 1e-6);
        clip_grad_value(&mut ps, 0.1);
        assert!(ps
            .iter()
            .all(|p| p.param.grad.as_slice().iter().all(|g| g.abs() <= 0.1)));
    }
}
