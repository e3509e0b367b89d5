-- gradscope store, schema version 1. Frozen: change the schema by adding a
-- migration (v2.sql), never by editing this file. See docs/STORE.md.

CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    spec              TEXT    NOT NULL,  -- the resolved spec, TOML
    status            TEXT    NOT NULL CHECK (status IN
                          ('running', 'finished', 'diverged', 'failed', 'interrupted')),
    created_at        REAL    NOT NULL,  -- unix seconds
    finished_at       REAL,              -- unix seconds; NULL while running or interrupted
    seed              INTEGER NOT NULL,
    gradscope_version TEXT    NOT NULL,
    git_describe      TEXT,              -- `git describe --always --dirty` where the run started
    pid               INTEGER NOT NULL,
    host              TEXT    NOT NULL,
    total_steps       INTEGER NOT NULL,
    error             TEXT,
    summary           TEXT               -- JSON, when finished
);

CREATE TABLE steps (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step      INTEGER NOT NULL,
    loss      REAL,
    accuracy  REAL,
    lr        REAL,
    grad_norm REAL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE evals (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step           INTEGER NOT NULL,
    train_loss     REAL,
    train_accuracy REAL,
    test_loss      REAL,
    test_accuracy  REAL
);
CREATE INDEX evals_run_step ON evals (run_id, step);

CREATE TABLE layer_steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step   INTEGER NOT NULL,
    layer  INTEGER NOT NULL,
    path   TEXT    NOT NULL,
    -- weight: the weights W, after the step's update
    weight_n INTEGER, weight_sum REAL, weight_sum_sq REAL, weight_max_abs REAL,
    weight_nan INTEGER, weight_inf INTEGER, weight_zeros INTEGER, weight_l2 REAL,
    weight_rms REAL, weight_mean REAL, weight_std REAL, weight_zero_frac REAL,
    -- weight_grad: dL/dW, before clipping
    weight_grad_n INTEGER, weight_grad_sum REAL, weight_grad_sum_sq REAL, weight_grad_max_abs REAL,
    weight_grad_nan INTEGER, weight_grad_inf INTEGER, weight_grad_zeros INTEGER, weight_grad_l2 REAL,
    weight_grad_rms REAL, weight_grad_mean REAL, weight_grad_std REAL, weight_grad_zero_frac REAL,
    -- bias_grad: dL/db (all NULL when the layer has no bias)
    bias_grad_n INTEGER, bias_grad_sum REAL, bias_grad_sum_sq REAL, bias_grad_max_abs REAL,
    bias_grad_nan INTEGER, bias_grad_inf INTEGER, bias_grad_zeros INTEGER, bias_grad_l2 REAL,
    bias_grad_rms REAL, bias_grad_mean REAL, bias_grad_std REAL, bias_grad_zero_frac REAL,
    -- pre_grad: dL/dz, the delta at the pre-activation
    pre_grad_n INTEGER, pre_grad_sum REAL, pre_grad_sum_sq REAL, pre_grad_max_abs REAL,
    pre_grad_nan INTEGER, pre_grad_inf INTEGER, pre_grad_zeros INTEGER, pre_grad_l2 REAL,
    pre_grad_rms REAL, pre_grad_mean REAL, pre_grad_std REAL, pre_grad_zero_frac REAL,
    -- out_grad: dL/dh, the gradient arriving at the output
    out_grad_n INTEGER, out_grad_sum REAL, out_grad_sum_sq REAL, out_grad_max_abs REAL,
    out_grad_nan INTEGER, out_grad_inf INTEGER, out_grad_zeros INTEGER, out_grad_l2 REAL,
    out_grad_rms REAL, out_grad_mean REAL, out_grad_std REAL, out_grad_zero_frac REAL,
    -- pre: pre-activation values z
    pre_n INTEGER, pre_sum REAL, pre_sum_sq REAL, pre_max_abs REAL,
    pre_nan INTEGER, pre_inf INTEGER, pre_zeros INTEGER, pre_l2 REAL,
    pre_rms REAL, pre_mean REAL, pre_std REAL, pre_zero_frac REAL,
    -- out: output values h
    out_n INTEGER, out_sum REAL, out_sum_sq REAL, out_max_abs REAL,
    out_nan INTEGER, out_inf INTEGER, out_zeros INTEGER, out_l2 REAL,
    out_rms REAL, out_mean REAL, out_std REAL, out_zero_frac REAL,
    pre_p15         REAL,
    pre_p50         REAL,
    pre_p85         REAL,
    saturated       REAL,
    dead            REAL,
    update_ratio    REAL,
    grad_data_ratio REAL,
    PRIMARY KEY (run_id, step, layer)
);

CREATE TABLE histograms (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    idx        INTEGER NOT NULL,  -- position in the step's list of histograms
    layer      INTEGER NOT NULL,
    tensor     TEXT    NOT NULL,  -- weight_grad, pre_grad, output
    zero       INTEGER NOT NULL,
    non_finite INTEGER NOT NULL,
    neg        TEXT    NOT NULL,  -- JSON array of counts, one per bin
    pos        TEXT    NOT NULL,  -- JSON array of counts, one per bin
    PRIMARY KEY (run_id, step, idx)
);

CREATE TABLE findings (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    summary  TEXT    NOT NULL,
    finding  TEXT    NOT NULL,  -- the whole finding, JSON
    PRIMARY KEY (run_id, idx)
);

CREATE INDEX runs_status ON runs (status);
