-- gradscope store, schema version 2. Frozen once released: change the
-- schema by adding a migration (v3.sql), never by editing this file. See
-- docs/STORE.md.
--
-- 1. Subnormal counts. For every probed tensor T of `layer_steps`:
--    T_subnormal, the non-zero entries below the tensor's own type's
--    smallest normal magnitude (1.18e-38 in f32, 2.2e-308 in f64), which
--    hold fewer significant bits than the type's precision; and the
--    derived T_subnormal_frac = T_subnormal / T_n. NULL in rows written
--    before this version (not measured then). The columns come after v1's.
--
-- 2. The `weight` tensor, corrected. v1.sql says the weight_* columns are
--    taken "after the step's update"; they are not:
--    weight: the whole weight tensor W (every entry, not a sample) as the
--    step used it, before the step's update; the same W that produced the
--    row's gradients and activations, so weight_grad_l2 / weight_l2 is the
--    whole tensor's gradient-to-weight ratio.
--
-- 3. Per-axis series: `layer_series`, figures of one tensor of a layer
--    along the block's own axis (a recurrent cell's hidden state per time
--    step, a conv layer's output per channel), one row per index.

ALTER TABLE layer_steps ADD COLUMN weight_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN weight_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN weight_grad_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN weight_grad_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN bias_grad_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN bias_grad_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN pre_grad_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN pre_grad_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN out_grad_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN out_grad_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN pre_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN pre_subnormal_frac REAL;
ALTER TABLE layer_steps ADD COLUMN out_subnormal INTEGER;
ALTER TABLE layer_steps ADD COLUMN out_subnormal_frac REAL;

CREATE TABLE layer_series (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step   INTEGER NOT NULL,
    layer  INTEGER NOT NULL,
    series INTEGER NOT NULL,  -- position of the series in the layer's list
    tensor TEXT    NOT NULL,  -- in the block's vocabulary: hidden, hidden_grad, out
    axis   TEXT    NOT NULL,  -- time_step, channel or head
    idx    INTEGER NOT NULL,  -- index along the axis, 0-based
    -- the tensor's statistics at that index, as in layer_steps
    n INTEGER, sum REAL, sum_sq REAL, max_abs REAL,
    nan INTEGER, inf INTEGER, zeros INTEGER, subnormal INTEGER,
    l2 REAL, rms REAL, mean REAL, std REAL, zero_frac REAL, subnormal_frac REAL,
    PRIMARY KEY (run_id, step, layer, tensor, axis, idx)
);
