# vpcflow tasks. `just` lists them; `just ci` runs exactly what CI runs (scripts/test.sh).

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/vpcflow-target")

# List the recipes.
default:
    @just --list

# Everything CI runs: fmt, clippy, doc, bench build, tests.
ci:
    scripts/test.sh

# Check formatting.
fmt:
    cargo fmt --all -- --check

# Clippy with warnings as errors.
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo clippy --workspace --all-targets --locked --features distributed -- -D warnings

# Build the docs with warnings as errors.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Run the tests (installs moto, pyarrow and duckdb if missing).
test:
    scripts/test.sh --quick

# Build the benchmarks without running them.
bench-check:
    cargo bench -p vpcflow-benches --no-run --locked

# Run the criterion benchmarks.
bench:
    cargo bench -p vpcflow-benches

# The README's first command: verdicts on the bundled scenario (exits 1: something is blocked).
demo:
    cargo run -q -- verdict --endpoints testdata/rds-sg-patterns/endpoints.toml testdata/rds-sg-patterns/cloudwatch/

# Fuzz a target on the stable toolchain (decode, scan, parquet) for SECONDS.
fuzz target="decode" seconds="300":
    scripts/fuzz.sh {{target}} {{seconds}}

# Time vpcflow against wc -l, gzip -dc and DuckDB (benches/compare.sh; RECORDS defaults to 5M).
compare records="5000000":
    benches/compare.sh {{records}}

# Peak memory of parse and verdict on one large generated file (benches/memory.sh; ~6 GB).
memory records="55000000" span="86400":
    benches/memory.sh {{records}} {{span}}

# The README's explain example: which security group blocks, offline from the bundled snapshot.
explain:
    cargo run -q -- verdict --endpoints testdata/rds-sg-patterns/endpoints.toml --config-snapshot testdata/rds-sg-patterns/config testdata/rds-sg-patterns/cloudwatch/
