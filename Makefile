# Portal mesh: every target creates/updates the virtualenv it needs.
SHELL := /bin/bash
PY_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: venv run test gen gen-check openapi lint fmt bench soak clean system-packages lock \
	docs-assets frontend-check containers

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	@$(UV) --version 2>/dev/null | grep -q "uv 0.13.9" || $(PY) -m pip install -q uv==0.13.9 2>&1 | grep -v "^WARNING: Location" || true
	@$(UV) pip sync -q --python $(PY) requirements.lock
	@$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $(STAMP)

## lock: re-resolve the pinned dependency sets from pyproject.toml: requirements.lock (the
## development venv: runtime + dev extras) and requirements-runtime.lock (the image: runtime only,
## constrained to the same versions)
lock: venv
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	$(UV) pip compile pyproject.toml --python-version 3.11 --generate-hashes \
		--constraint requirements.lock -o requirements-runtime.lock

## gen: protobuf/grpc Python modules + .pyi + the Envoy descriptor set
gen: venv
	@$(PY) -m tools.gen

## openapi: openapi/openapi.json (the REST surface, from the protos); also part of `make gen`
openapi: venv
	@$(PY) -m tools.openapi

## docs-assets: copy Swagger UI (swagger-ui-dist, pinned in tests/frontend) into openapi/swagger-ui
docs-assets: venv
	@cd tests/frontend && npm ci --no-audit --no-fund --prefer-offline
	@$(PY) -m tools.docs_assets

## frontend-check: the OpenAPI document as a TypeScript front end consumes it (validator,
## openapi-typescript, tsc --strict); also run by the e2e tests
frontend-check:
	@cd tests/frontend && npm ci --no-audit --no-fund --prefer-offline && npm run --silent check

## gen-check: fail when the committed generated code differs from a fresh `make gen`
gen-check: venv
	@$(PY) -m tools.gen --check

lint: venv
	@$(PY) -m tools.lint

fmt: venv
	@$(VENV)/bin/buf format -w proto/portal proto/eventbus
	@$(VENV)/bin/ruff format services sandbox tests tools bench
	@$(VENV)/bin/ruff check --fix services sandbox tests tools bench

## run: the whole stack (Postgres/Redis checks, sandboxes, four services, Envoy), Ctrl-C stops it;
## the sandboxes keep their state in .run/sandboxes; FRESH=1 starts a fresh world (wipes the
## sandboxes' state, the portal database and its cache keys together)
run: venv
	@$(PY) -m tools.supervisor $(if $(REPLICAS),--replicas $(REPLICAS),) \
		$(if $(filter 1 yes true,$(FRESH)),--fresh,)

## system-packages: Debian packages some tests drive (chromium, docker-compose); installs as root
system-packages:
	@bash tools/system_packages.sh

## test: drift check + buf lint + the whole test suite (unit, service, e2e)
test: venv system-packages gen-check
	@$(VENV)/bin/buf lint
	@$(PY) -m pytest -q $(PYTEST_ARGS)

## containers: the image built from the real Dockerfile (on a debootstrap Debian base) and the whole
## compose.yaml stack run on a private dockerd (root; tools/containers/run.sh, tests/containers);
## caches under /var/cache/portal-ci (PORTAL_CI_CACHE)
containers: venv
	@bash tools/containers/run.sh

bench: venv
	@$(PY) -m bench $(BENCH)

## soak: SOAK_USERS customers for SOAK_SECONDS on a stack of its own (200 for 10 min by default);
## results in bench/results/ and bench/README.md ("Soak results"); not part of `make bench`
SOAK_USERS ?= 200
SOAK_SECONDS ?= 600
soak: venv
	@$(PY) -m bench.soak --users $(SOAK_USERS) --seconds $(SOAK_SECONDS) --readme

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .run
