"""The documentation in ``docs/`` against the code it describes, so it cannot drift silently: every
public RPC with its REST route, every error reason with its gRPC code, every shared setting; and
no file of the repository points to design notes that a clone does not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import grpc
import pytest

from services.billing.payment_link import InvoiceNotPayable
from services.common import errors
from services.common.settings import ServiceSettings
from tools import openapi
from tools.envoy_config import FORBIDDEN, LOCAL_REPLIES, METHOD_NOT_ALLOWED
from tools.gen import DESCRIPTOR, GEN

ROOT = Path(__file__).resolve().parents[2]
API = (ROOT / "docs" / "api.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
ROUTES = [
    (op["operationId"], verb.upper(), path)
    for path, ops in openapi.build(openapi.load_comments(GEN / DESCRIPTOR))["paths"].items()
    for verb, op in ops.items()
]


def method_rows() -> dict[str, str]:
    """Method name → the REST cell of its row in the methods table of docs/api.md."""
    rows = {}
    for line in API.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[2].startswith("`") and re.match(r"^[A-Z]\w+$", cells[1]):
            rows[cells[1]] = cells[2]
    return rows


@pytest.mark.parametrize(("name", "verb", "path"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_public_rpc_is_in_the_api_document(name: str, verb: str, path: str) -> None:
    rows = method_rows()
    assert name in rows, f"{name} is missing from docs/api.md"
    assert rows[name].strip("`").startswith(f"{verb} {path}"), rows[name]


def test_the_api_document_lists_no_method_the_protos_lack() -> None:
    assert set(method_rows()) == {name for name, _, _ in ROUTES}


def reasons_in_code() -> dict[str, str]:
    found = {
        cls.reason: cls.code.name
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.PortalError) and "reason" in vars(cls)
    }
    found[InvoiceNotPayable.reason] = InvoiceNotPayable.code.name
    names = {status.value[0]: status.name for status in grpc.StatusCode}
    for _, code, reason, _ in [*LOCAL_REPLIES, FORBIDDEN, METHOD_NOT_ALLOWED]:
        found.setdefault(reason, names[code])
    return found


def reason_rows() -> dict[str, str]:
    rows = {}
    for line in API.splitlines():
        match = re.match(r"^\| `([A-Z_]+)` \| ([A-Z_]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_error_reason_is_in_the_api_document_with_its_code() -> None:
    assert reason_rows() == reasons_in_code()


def test_every_shared_setting_is_in_the_operations_document() -> None:
    shared = [field.variable for field in ServiceSettings.fields.values() if field.shared]
    assert "CACHE_NAMESPACE" in shared
    missing = [name for name in shared if f"`{name}`" not in OPERATIONS]
    assert missing == []


def test_nothing_points_to_notes_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\.\./shared\b|\bshared/contracts\b|\bARCHITECTURE\.md\b|\bAPI\.md\b")
    found = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".proto", ".yaml", ".yml", ".toml", ".json", ".sh"}:
            continue
        if name.startswith(("gen/", "proto/google/")) or path.name == "test_docs.py":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []
