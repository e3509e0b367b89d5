//! Every threshold the rules use, named, each with where it comes from.
//! Where a figure is our own choice, the comment says so and why.

/// Vanishing, critical: the first layer's weight gradient below this
/// fraction of the last layer's. With one learning rate for all layers, the
/// first layer then moves 1e4 times slower: a 3000-step run moves it less
/// than the last layer moves in three (our choice).
pub const VANISHING_CRITICAL: f64 = 1e-4;

/// Vanishing, warning: the first layer gets below 1% of the last layer's
/// gradient (two orders of magnitude; our choice).
pub const VANISHING_WARNING: f64 = 1e-2;

/// Layers whose gradient is below this fraction of the last layer's are
/// listed as "below the floor": they effectively do not learn (our choice,
/// after the design's example "your first 12 layers get 1e-7 of the
/// gradient the last one gets").
pub const VANISHING_FLOOR: f64 = 1e-6;

/// Vanishing through time: the lag (in time steps back from the last)
/// beyond which `||dL/dh_t||` is below this fraction of its value at the
/// last step is the horizon the net can learn over (the figure,
/// as the depth floor above: six orders of magnitude).
pub const THROUGH_TIME_FLOOR: f64 = 1e-6;

/// Vanishing through time, critical: the gradient falls below
/// [`THROUGH_TIME_FLOOR`] within this fraction of the sequence, so more
/// than half of the steps are out of reach (our choice).
pub const THROUGH_TIME_CRITICAL_LAG: f64 = 0.5;

/// Exploding through time, a spike: a step whose global gradient norm is
/// at least this multiple of the typical norm around it (the median over
/// [`SPIKE_WINDOW`] steps either side). The issue's "orders of magnitude
/// above the typical norm": two of them (our choice; a healthy LSTM's
/// largest step on the adding problem is 14-32 times its median).
pub const EXPLODING_SPIKE: f64 = 1e2;

/// A spike this many times the typical norm, in a run without clipping,
/// is critical: with plain SGD the update is four orders of magnitude
/// larger than the steps around it (our choice, the mirror image of
/// [`VANISHING_CRITICAL`]).
pub const EXPLODING_SPIKE_CRITICAL: f64 = 1e4;

/// The typical norm a spike is measured against is the median over the
/// finite steps within this many steps of it, on either side: local, so
/// that a norm falling (or rising) slowly over a long run is not taken for
/// spikes, and centred, so that step 0 has a typical norm too (our
/// choice).
pub const SPIKE_WINDOW: usize = 50;

/// A run with fewer finite steps than this has no typical norm to speak
/// of, and no spikes (our choice).
pub const SPIKE_MIN_STEPS: usize = 10;

/// Exploding through time: `||dL/dh_t||` at some time step above this
/// multiple of `||dL/dh_T||`, at the last, at a probed step. Three orders
/// of magnitude, as [`EXPLODING_GROWTH`] over steps (our choice): a
/// read-out at every step adds one term per later step to `dL/dh_t`, which
/// takes a sequence of a thousand steps to reach this by addition alone.
pub const THROUGH_TIME_GROWTH: f64 = 1e3;

/// Exploding through time, critical without clipping: six orders of
/// magnitude, the mirror image of [`THROUGH_TIME_FLOOR`].
pub const THROUGH_TIME_GROWTH_CRITICAL: f64 = 1e6;

/// Exploding with depth: the first layer's weight gradient above this
/// multiple of the last layer's. The layers' shapes alone move the L2
/// ratio by up to `sqrt(784 * 100 / (100 * 10))` = 9 on MNIST, so the bar
/// sits an order of magnitude above that (our choice).
pub const EXPLODING_DEPTH_WARNING: f64 = 1e2;

/// Exploding with depth, critical: four orders of magnitude (our choice,
/// the mirror image of [`VANISHING_CRITICAL`]).
pub const EXPLODING_DEPTH_CRITICAL: f64 = 1e4;

/// Exploding over steps: the global gradient norm rising above this
/// multiple of its early median. Pascanu et al. 2013 define the problem
/// as "a large increase in the norm of the gradient during training";
/// three orders of magnitude is our choice of "large".
pub const EXPLODING_GROWTH: f64 = 1e3;

/// The "take-off" step: the first step whose global norm exceeds this
/// multiple of the early median (our choice).
pub const TAKEOFF_FACTOR: f64 = 10.0;

/// The early median of the global gradient norm is taken over this
/// fraction of the steps ...
pub const EARLY_FRACTION: f64 = 0.1;

/// ... but over at least this many steps (fewer only when fewer ran).
pub const EARLY_MIN_STEPS: usize = 5;

/// Saturation: a layer is saturated when more than this fraction of its
/// units have a derivative below 5% of the activation's maximum
/// ([`crate::probe::SATURATION_FRACTION`]). Half is our choice; Glorot &
/// Bengio 2010, Fig. 2, show the top sigmoid layer near 100%.
pub const SATURATED_LAYER: f64 = 0.5;

/// Saturation, critical: at least half the hidden layers saturated beyond
/// this fraction (our choice: almost no gradient passes such a layer).
pub const SATURATED_CRITICAL: f64 = 0.9;

/// Dead units: a ReLU-family layer with more than this fraction of units
/// inactive on a whole batch. Karpathy's CS231n notes ("Neural Networks
/// Part 1", ReLU) warn that "as much as 40% of your network can be dead"
/// with too high a learning rate; 20% is our earlier alarm.
pub const DEAD_LAYER: f64 = 0.2;

/// Dead units, critical: a layer with more than this fraction dead passes
/// almost no gradient (our choice).
pub const DEAD_CRITICAL: f64 = 0.9;

/// The update:data ratio to aim for: Karpathy's rule of thumb, CS231n
/// "Neural Networks Part 3" (the ratio of update to value magnitudes
/// "should be somewhere around 1e-3").
pub const UPDATE_RATIO_TARGET: f64 = 1e-3;

/// Update:data ratio below this: the learning rate is too small (two
/// orders of magnitude below [`UPDATE_RATIO_TARGET`]; our choice).
pub const UPDATE_RATIO_LOW: f64 = 1e-5;

/// Update:data ratio above this: the learning rate is too large (two
/// orders of magnitude above [`UPDATE_RATIO_TARGET`]; our choice).
pub const UPDATE_RATIO_HIGH: f64 = 1e-1;

/// Stalled: the mean training loss of this final fraction of the steps ...
pub const STALL_WINDOW: f64 = 0.2;

/// ... within this relative distance of chance, `ln(classes)` (the
/// cross-entropy of the uniform prediction); for MSE, within this
/// relative distance of the first window's mean (flat). Our choice.
pub const STALL_LOSS_TOLERANCE: f64 = 0.05;

/// ... and held-out accuracy below `1 / classes` plus this (our choice).
pub const STALL_ACCURACY_MARGIN: f64 = 0.05;

/// Degradation: a deeper plain net's training loss, at the same step,
/// above this multiple of a shallower plain net's on the same data. He et
/// al. 2016's 56-layer plain CIFAR net ends with about 1.5 times the
/// 20-layer one's training error (their Figure 1); a tenth above is
/// already more than seed-to-seed noise of a mean over a tenth of a run
/// (our choice).
pub const DEGRADATION_RATIO: f64 = 1.1;

/// Degradation compares the mean training-batch loss over this last
/// fraction of the steps both runs completed (our choice: long enough to
/// average the batch noise away, late enough to be "where it ended").
pub const DEGRADATION_WINDOW: f64 = 0.1;
