# syntax=docker/dockerfile:1
# One image for every Python process of the portal: the four services, the migration job, the
# dev-key job and the three sandboxes. The command picks the process, e.g.
#   docker run portal-mesh python -m services.billing
# No secret is baked in: every credential comes from the environment (compose.yaml, a k8s Secret).

ARG PYTHON_IMAGE=python:3.11-slim

# -- builder: the locked runtime dependency set in a venv (uv, hashes checked) ------------------
FROM ${PYTHON_IMAGE} AS builder
ENV UV_LINK_MODE=copy PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv venv /opt/venv --python /usr/local/bin/python
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
# Every wheel in the lock is pinned and hashed; `sync` installs exactly that set (no resolution).
# The runtime lock leaves out the dev extras (test runners, browsers' drivers, type checkers,
# manifest validators) and pins the same versions as the development venv (`make lock`).
RUN uv pip sync --python /opt/venv/bin/python --require-hashes /tmp/requirements-runtime.lock
# Bytecode for the optimization level every process of the image runs at (PYTHONOPTIMIZE=2
# below: the *.opt-2.pyc files), so no process compiles the dependencies when it starts.
RUN /opt/venv/bin/python -m compileall -q -j 0 -o 2 /opt/venv/lib

# -- runtime: the venv and the source, nothing else -----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# PYTHONOPTIMIZE=2 (-OO): docstrings and asserts left out, ~3 MiB less per service process (the
# same as make run and the test stacks, tools/stack.py; docs/operations.md "Memory").
# PYTHONNODEBUGRANGES=1: the code objects keep no column tables (Python drops them as it loads the
# bytecode; tracebacks keep their line numbers, not the ^^^ markers), ~0.5 MiB less per service.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONOPTIMIZE=2 \
    PYTHONNODEBUGRANGES=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    LOG_JSON=true
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --no-create-home --shell /usr/sbin/nologin portal \
 && mkdir -p /keys /certs && chown portal:portal /keys /certs
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# gen/: the generated stubs (`portal.*`, `eventbus.*` via PYTHONPATH); services/: the services,
# their SQL migrations and the health-check CLI; sandbox/: the local stand-ins (with seed data);
# tools/devkeys.py, tools/devcerts.py: the dev-key job of compose.yaml (tools/__init__.py makes
# them importable).
COPY gen/ gen/
COPY services/ services/
COPY sandbox/ sandbox/
COPY tools/__init__.py tools/devkeys.py tools/devcerts.py tools/
# Named volumes mounted at /keys and /certs start out owned by `portal` (the image's folders are).
USER portal:portal
CMD ["python", "-m", "services.identity"]
