"""``python -m services.identity``: run the identity service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from services.common import lean


def main() -> None:
    # Before the service is imported and before any thread starts (services/common/lean.py).
    lean.prepare()
    from services.common.server import serve
    from services.identity.server import build_server
    from services.identity.settings import IdentitySettings

    asyncio.run(serve("identity", IdentitySettings.load(), build_server))


if __name__ == "__main__":
    main()
