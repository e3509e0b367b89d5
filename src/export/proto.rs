//! TensorBoard's protocol buffers, the few messages an event file of
//! scalars and histograms needs, written by hand with prost's derive (the
//! field numbers are those of TensorFlow's `event.proto`, `summary.proto`
//! and `histogram.proto`; fields we never write are left out, which the
//! wire format allows).

/// `tensorflow.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Unix seconds.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`: the two kinds we write.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The file's first event: `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars and histograms.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`: tagged values at one step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorflow.Summary.Value`: one tag's value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The tag (`grad_norm/layers.0`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value.
    #[prost(oneof = "Kind", tags = "2, 5")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`: a scalar or a histogram.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// A scalar (f32 on the wire).
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// A histogram.
    #[prost(message, tag = "5")]
    Histo(HistogramProto),
}

/// `tensorflow.HistogramProto`: bucket `i` counts the values in
/// `[bucket_limit[i-1], bucket_limit[i])`, the first from `min`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// Smallest value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Largest value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Values counted.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Their sum.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// The sum of their squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edge of each bucket, increasing.
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Count of each bucket.
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}
