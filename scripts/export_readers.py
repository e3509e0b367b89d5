"""What TensorBoard, pandas and DuckDB read from gradscope's exports.

The Rust tests (tests/export/) compare our exporter's output with the
fixtures this script writes, so every format is checked against the tools
people open it with, without those tools in the test suite.

Usage, from the repository root:

    GRADSCOPE_EXPORT_SAMPLES=/tmp/export-samples \
        cargo test --release --test export -- --ignored write_samples
    pip install tensorboard pandas pyarrow duckdb
    python scripts/export_readers.py /tmp/export-samples tests/fixtures/export

The samples are the exports of a small synthetic run with fixed numbers
(tests/export/synthetic.rs): the TensorBoard event file under tb/, and the
probe table as long.csv, wide.csv, long.json, wide.json, long.parquet,
wide.parquet.

Writes two files:

- tensorboard.json: what TensorBoard's EventAccumulator read: the file
  version, every scalar tag's (step, value) and every histogram tag's
  (step, {min, max, num, sum, sum_squares, bucket_limit, bucket}).
- tables.json: the long and wide tables as DuckDB reads the Parquet files
  (the canonical rows), and for each of pandas and DuckDB and each file:
  rows, columns, each column's type, and the largest relative difference
  from the canonical rows (0.0: every value read back exactly).

Non-finite numbers are written as the strings "inf" / "-inf", missing
values (NaN) as null.
"""

import glob
import json
import math
import os
import sys

import duckdb
import pandas as pd
from tensorboard.backend.event_processing import event_accumulator


def num(x):
    """A JSON-safe number: null for NaN, strings for infinities."""
    if x is None:
        return None
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return x
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def tensorboard(samples):
    files = glob.glob(os.path.join(samples, "tb", "*", "events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = event_accumulator.EventAccumulator(
        files[0], size_guidance={"scalars": 0, "histograms": 0}
    )
    acc.Reload()
    tags = acc.Tags()
    scalars = {
        tag: [[e.step, num(e.value)] for e in acc.Scalars(tag)]
        for tag in sorted(tags["scalars"])
    }
    histograms = {}
    for tag in sorted(tags["histograms"]):
        histograms[tag] = [
            [
                e.step,
                {
                    "min": num(e.histogram_value.min),
                    "max": num(e.histogram_value.max),
                    "num": num(e.histogram_value.num),
                    "sum": num(e.histogram_value.sum),
                    "sum_squares": num(e.histogram_value.sum_squares),
                    "bucket_limit": [num(x) for x in e.histogram_value.bucket_limit],
                    "bucket": [num(x) for x in e.histogram_value.bucket],
                },
            ]
            for e in acc.Histograms(tag)
        ]
    # The first event, read with TensorBoard's own loader.
    from tensorboard.backend.event_processing import event_file_loader

    first = next(iter(event_file_loader.RawEventFileLoader(files[0]).Load()))
    from tensorboard.compat.proto import event_pb2

    version = event_pb2.Event.FromString(first).file_version
    import tensorboard as tb

    return {
        "tool": "tensorboard %s EventAccumulator" % tb.__version__,
        "file_version": version,
        "scalars": scalars,
        "histograms": histograms,
    }


INT_COLUMNS = ("run", "step", "layer")


def rows_of(df):
    out = []
    for rec in df.itertuples(index=False):
        row = []
        for col, v in zip(df.columns, rec):
            if col in INT_COLUMNS:
                row.append(int(v))
            elif isinstance(v, str):
                row.append(v)
            elif v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                row.append(None)
            else:
                row.append(num(v))
        out.append(row)
    return out


def rel_diff(a, b):
    """Largest relative difference between two tables of rows."""
    assert len(a) == len(b), (len(a), len(b))
    worst = 0.0
    for ra, rb in zip(a, b):
        assert len(ra) == len(rb)
        for x, y in zip(ra, rb):
            if x == y:
                continue
            if isinstance(x, float) and isinstance(y, float):
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
            else:
                raise AssertionError("%r != %r" % (x, y))
    return worst


def tables(samples):
    out = {"tools": {"pandas": pd.__version__, "duckdb": duckdb.__version__}, "readers": {}}
    for shape in ("long", "wide"):
        parquet = os.path.join(samples, shape + ".parquet")
        canon = duckdb.sql("SELECT * FROM read_parquet('%s')" % parquet).df()
        canon_rows = rows_of(canon)
        out[shape] = {"columns": list(canon.columns), "rows": canon_rows}
        for fmt in ("csv", "json", "parquet"):
            path = os.path.join(samples, "%s.%s" % (shape, fmt))
            # pandas, as a user would call it.
            if fmt == "csv":
                df = pd.read_csv(path)
            elif fmt == "json":
                # pandas' JSON parser rounds doubles (about 1e-10 relative)
                # unless asked to be precise (docs/EXPORT.md).
                df = pd.read_json(path, precise_float=True)
            else:
                df = pd.read_parquet(path)
            types = {c: str(t) for c, t in df.dtypes.items()}
            got = rows_of(df[canon.columns]) if fmt == "json" else rows_of(df)
            if fmt == "json":
                # JSON has no infinities (null): compare with those as missing.
                text = [c in ("path", "tensor", "metric") for c in canon.columns]
                want = [
                    [None if (not t and v in ("inf", "-inf")) else v for t, v in zip(text, r)]
                    for r in canon_rows
                ]
            else:
                want = canon_rows
            out["readers"]["pandas %s %s" % (fmt, shape)] = {
                "rows": len(df),
                "columns": list(df.columns),
                "types": types,
                "max_rel_diff": rel_diff(got, want),
            }
            # DuckDB, with its automatic readers.
            reader = {"csv": "read_csv", "json": "read_json", "parquet": "read_parquet"}[fmt]
            rel = duckdb.sql("SELECT * FROM %s('%s')" % (reader, path))
            types = {c: str(t) for c, t in zip(rel.columns, rel.types)}
            df = rel.df()
            got = rows_of(df[canon.columns])
            out["readers"]["duckdb %s %s" % (fmt, shape)] = {
                "rows": len(df),
                "columns": list(rel.columns),
                "types": types,
                "max_rel_diff": rel_diff(got, want),
            }
    return out


def main():
    samples, fixtures = sys.argv[1], sys.argv[2]
    os.makedirs(fixtures, exist_ok=True)
    for name, data in (("tensorboard.json", tensorboard(samples)), ("tables.json", tables(samples))):
        with open(os.path.join(fixtures, name), "w") as f:
            json.dump(data, f, indent=1, sort_keys=False, allow_nan=False)
            f.write("\n")
        print(os.path.join(fixtures, name))


if __name__ == "__main__":
    main()
