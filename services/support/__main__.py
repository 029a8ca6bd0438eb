"""``python -m services.support``: run the support service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from services.common import lean


def main() -> None:
    # Before the service is imported and before any thread starts (services/common/lean.py).
    lean.prepare()
    from services.common.server import serve
    from services.support.server import build_server
    from services.support.settings import SupportSettings

    asyncio.run(serve("support", SupportSettings.load(), build_server))


if __name__ == "__main__":
    main()
