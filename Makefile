# Paysuite developer commands. `make run` and `make test` do all set-up themselves.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test protos check-protos lint breaking protos-baseline typecheck bench k8s clean

$(BIN)/python:
	$(shell command -v $(PYTHON) || command -v python3) -m venv $(VENV)

$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The whole suite: embedded Postgres unless DATABASE_URL is set; Ctrl-C stops everything.
run: $(STAMP)
	$(BIN)/paysuite-dev run

## The whole test suite against a real Postgres (embedded unless DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest

## Regenerates Python code and mypy stubs from protos/.
protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

## Fails when the generated code differs from what the .proto files produce.
check-protos: protos
	git diff --exit-code -- 'lib/paysuite/*/v1' || \
		(echo "generated code is out of date: run 'make protos' and commit" && exit 1)
	test -z "$$(git status --porcelain -- 'lib/paysuite/*/v1')" || \
		(echo "untracked generated files: run 'make protos' and commit" && exit 1)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lib services simulators tests scripts
	$(BIN)/buf lint protos
	$(MAKE) --no-print-directory breaking
	$(BIN)/lint-imports --no-cache --no-logo

## Fails when protos/ breaks the released v1 contracts (buf's FILE rules against the image in
## protos/released/): additions pass; removing, renumbering or retyping anything fails.
BASELINE := protos/released/paysuite-v1.binpb
breaking: $(STAMP)
	$(BIN)/buf breaking protos --against $(BASELINE)

## A deliberate release only: makes the current protos the baseline `make breaking` checks.
protos-baseline: $(STAMP)
	$(BIN)/buf build protos --path protos/paysuite --exclude-source-info -o $(BASELINE)

typecheck: $(STAMP)
	$(BIN)/mypy lib services simulators tests scripts

## Renders every kustomization and validates each object strictly against the Kubernetes schemas.
k8s: $(STAMP)
	$(BIN)/python scripts/check_k8s.py

clean:
	rm -rf $(VENV) .data

## Card and wallet payments through the whole suite, open loop, in steps; see docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python scripts/bench_payments.py --chart docs/benchmarks-payments.png $(BENCH_ARGS)

## Memory soak: steady card and wallet payments (150/s + 20/s, 30 min) through the whole suite,
## each process's RSS read every 30 s; SOAK_ARGS="--minutes 2 --card-rate 20 --wallet-rate 2" for
## a smoke run. Writes .data/soak-<time>.json and .md; see docs/benchmarks.md, "Memory soak".
.PHONY: soak
soak: $(STAMP)
	$(BIN)/python scripts/soak_payments.py $(SOAK_ARGS)

## Ledger throughput (batch and single-transfer) against a pgbench yardstick; see docs/benchmarks.md.
.PHONY: bench-ledger
bench-ledger: $(STAMP)
	$(BIN)/python scripts/bench_ledger.py $(BENCH_ARGS)

## Reconciliation of 1 and 10 million rows through the recon service against a naive Postgres
## FULL OUTER JOIN, planted differences checked (BENCH_ARGS=--quick: 100k rows); see docs/benchmarks.md.
.PHONY: bench-recon
bench-recon: $(STAMP)
	$(BIN)/python scripts/bench_recon.py $(BENCH_ARGS)
