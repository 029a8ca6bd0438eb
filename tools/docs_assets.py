"""``make docs-assets``: the /docs renderer (Swagger UI) vendored from the npm package
``swagger-ui-dist`` pinned in ``tests/frontend/package-lock.json``.

The gateway serves these files itself (``/docs/<file>``), so the docs page loads nothing from a
CDN at run time and works under a ``script-src 'self'`` policy. The copies are committed; the
front-end contract test fails when they differ from the pinned package (run this after bumping
it, with ``npm ci`` done in ``tests/frontend``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "frontend" / "node_modules" / "swagger-ui-dist"
ASSETS = ROOT / "openapi" / "swagger-ui"
VENDORED = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE")
# Ours, next to the vendored files: Swagger UI's start-up and a few styles.
OWN = ("docs.js", "docs.css")
# What the gateway serves at /docs/<name>, with its content type.
SERVED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}


def stale(package: Path = PACKAGE, assets: Path = ASSETS) -> list[str]:
    """The vendored files that differ from (or are missing next to) the pinned package's."""
    return [
        name
        for name in VENDORED
        if not (assets / name).exists()
        or (assets / name).read_bytes() != (package / name).read_bytes()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a copy is stale")
    args = parser.parse_args()
    if not PACKAGE.is_dir():
        sys.exit(f"{PACKAGE} is missing: run `npm ci` in tests/frontend first")
    if args.check:
        if names := stale():
            sys.exit(f"stale /docs assets (run make docs-assets): {', '.join(names)}")
        return
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name in VENDORED:
        shutil.copyfile(PACKAGE / name, ASSETS / name)
    print(f"copied {', '.join(VENDORED)} into {ASSETS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
