"""``python -m services.commerce``: run the commerce service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from services.common import lean


def main() -> None:
    # Before the service is imported and before any thread starts (services/common/lean.py).
    lean.prepare()
    from services.commerce.server import build_server
    from services.commerce.settings import CommerceSettings
    from services.common.server import serve

    asyncio.run(serve("commerce", CommerceSettings.load(), build_server))


if __name__ == "__main__":
    main()
