"""``make gen``: protobuf + gRPC Python modules, ``.pyi`` stubs, the Envoy descriptor set, the Envoy
config and the OpenAPI document.

``--check`` regenerates into a scratch folder and fails when anything differs from ``gen/``.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GEN = ROOT / "gen"
DESCRIPTOR = "portal_descriptor.pb"
ENVOY_YAML = ROOT / "envoy" / "envoy.yaml"
OPENAPI_JSON = ROOT / "openapi" / "openapi.json"
# Our own packages (generated into gen/); proto/google is only imported (its Python comes from
# googleapis-common-protos).
PACKAGES = ("portal", "eventbus")


def _protos(package: str) -> list[str]:
    return sorted(str(p.relative_to(PROTO)) for p in (PROTO / package).rglob("*.proto"))


def _run_protoc(args: list[str]) -> None:
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(["grpc_tools.protoc", f"-I{PROTO}", f"-I{well_known}", *args])
    if code != 0:
        sys.exit(f"protoc failed ({code}) for {args[-1]}")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        files = _protos(package)
        if not files:
            continue
        _run_protoc(
            [
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                *files,
            ]
        )
        # Regular packages, so `from portal.billing.v1 import billing_pb2` works everywhere.
        for folder in [out / package, *(out / package).rglob("*")]:
            if folder.is_dir():
                (folder / "__init__.py").touch()
    # The transcoder needs every import in the set, and the error details so that ErrorInfo and
    # BadRequest render as JSON.
    public = [*_protos("portal"), "google/rpc/error_details.proto"]
    _run_protoc(
        [
            f"--descriptor_set_out={out / DESCRIPTOR}",
            "--include_imports",
            "--include_source_info",
            *public,
        ]
    )


def _diff(a: Path, b: Path) -> list[str]:
    problems: list[str] = []
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    problems += [f"only in committed gen/: {x}" for x in cmp.left_only]
    problems += [f"missing from gen/: {x}" for x in cmp.right_only]
    problems += [f"differs: {x}" for x in cmp.diff_files]
    for sub in cmp.common_dirs:
        problems += [f"{sub}/{p}" for p in _diff(a / sub, b / sub)]
    return problems


def _envoy_yaml(path: Path) -> None:
    # Imported here: it reads the descriptors from the generated modules.
    from tools.envoy_config import GatewaySettings, write

    write(GatewaySettings(), path)


def _openapi(path: Path, gen: Path) -> None:
    # Imported here, like the Envoy config: it reads the generated modules and descriptor set.
    from tools.openapi import write

    write(path, gen / DESCRIPTOR)


def _differs(fresh: Path, committed: Path) -> list[str]:
    same = committed.exists() and fresh.read_text() == committed.read_text()
    return [] if same else [f"differs: {committed.relative_to(ROOT)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/ is out of date")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(GEN, ignore_errors=True)
        generate(GEN)
        _envoy_yaml(ENVOY_YAML)
        _openapi(OPENAPI_JSON, GEN)
        print(f"generated {sum(1 for _ in GEN.rglob('*.py*'))} files into gen/")
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        problems = _diff(GEN, fresh)
        _envoy_yaml(Path(tmp) / "envoy.yaml")
        problems += _differs(Path(tmp) / "envoy.yaml", ENVOY_YAML)
        _openapi(Path(tmp) / "openapi.json", fresh)
        problems += _differs(Path(tmp) / "openapi.json", OPENAPI_JSON)
    if problems:
        print("gen/ is out of date; run `make gen` and commit:", *problems, sep="\n  ")
        sys.exit(1)
    print("gen/ is up to date")


if __name__ == "__main__":
    main()
