-- gradscope store, schema version 3. Frozen once released: change the
-- schema by adding a migration (v4.sql), never by editing this file. See
-- docs/STORE.md.
--
-- Sweeps: a sweep is one spec file that stands for many runs. It is
-- identified by its name and the hash of its content, so re-running the
-- same file finds it again (and resumes it). Each run of a sweep names
-- its sweep and its cell (the axis values), and once it has ended, its
-- classification.

CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,  -- 16 hex digits of SHA-256 of the canonical spec
    spec       TEXT    NOT NULL,  -- the whole sweep spec, as written
    created_at REAL    NOT NULL,  -- unix seconds
    UNIQUE (name, hash)
);

-- NULL for a run that is not part of a sweep.
ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id);
-- The axis values, canonical JSON with sorted keys: {"model.depth":4}.
ALTER TABLE runs ADD COLUMN cell TEXT;
CREATE INDEX runs_sweep ON runs (sweep_id);

CREATE TABLE classifications (
    run_id        INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    class         TEXT NOT NULL CHECK (class IN
                      ('trains', 'vanishes', 'explodes', 'diverges', 'stalls')),
    rule          TEXT NOT NULL,  -- the finding kind that decided it, or 'none'
    evidence      TEXT NOT NULL,  -- JSON: the deciding finding's severity, summary, evidence
    test_accuracy REAL,           -- final held-out accuracy
    test_loss     REAL            -- final held-out loss
);
