//! Layers and networks: the [`Layer`] trait (forward caches what backward
//! needs; backward stores `dL/dx` in the layer, when asked, and accumulates
//! or overwrites parameter gradients), one layer per file, the dense block
//! that the prober measures ([`Dense`]), the losses, the MLP builder,
//! convolutional networks ([`conv`]) and recurrent networks
//! ([`recurrent`]).

mod activation;
mod activation_layer;
mod batch_norm;
pub mod conv;
mod dense;
pub mod feature_sums;
mod layer;
mod layer_norm;
mod linear;
mod loss;
mod mlp;
mod model_config;
pub mod recurrent;
mod residual;
mod sequential;

pub use crate::tensor::{Grads, Param};
pub use activation::{Activation, ACTIVATION_NAMES};
pub use activation_layer::{sample_stride, ActivationFigures, ActivationLayer, TAP_BLOCK};
pub use batch_norm::BatchNorm;
pub use dense::Dense;
pub use layer::{join, Affine, Layer, Mode, NamedParam};
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use loss::{Loss, Targets};
pub use mlp::Mlp;
pub use model_config::{ModelConfig, ModelKind, Norm, NormPlacement};
pub use residual::Residual;
pub use sequential::Sequential;
