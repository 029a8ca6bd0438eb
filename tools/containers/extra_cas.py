"""Write the CA certificates of one PEM bundle that another lacks as ``.crt`` files in a folder.

Used by base_image.sh: the host may trust a CA Debian's bundle does not (a TLS-inspecting proxy in
front of the package registries); the image gets exactly those, as local certificates.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def certificates(bundle: Path) -> list[str]:
    return PEM.findall(bundle.read_text()) if bundle.exists() else []


def main(host_bundle: str, image_bundle: str, out_dir: str) -> int:
    known = set(certificates(Path(image_bundle)))
    extra = [c for c in certificates(Path(host_bundle)) if c not in known]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, cert in enumerate(extra):
        (out / f"host-extra-{i}.crt").write_text(cert + "\n")
    print(f"base image: {len(extra)} extra CA certificate(s) from the host")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
