//! Layers and networks: the [`Layer`] trait (forward caches what backward
//! needs; backward returns the input gradient and accumulates parameter
//! gradients), one layer per file, the losses, and the MLP builder.

mod activation;
mod batch_norm;
mod layer;
mod layer_norm;
mod linear;
mod loss;
mod mlp;
mod mlp_config;
mod residual;
mod sequential;
pub mod tap;

pub use activation::{Activation, ActivationLayer, ACTIVATION_NAMES};
pub use batch_norm::BatchNorm;
pub use layer::{join, Grads, Layer, Mode, NamedParam, Param};
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use loss::{Loss, Targets};
pub use mlp::{LayerSlots, Mlp};
pub use mlp_config::{MlpConfig, Norm, NormPlacement};
pub use residual::Residual;
pub use sequential::Sequential;
pub use tap::{Taps, PERCENTILE_SAMPLE, SATURATION_FRACTION};
