"""``python -m services.billing``: run the billing service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from services.common import lean


def main() -> None:
    # Before the service is imported and before any thread starts (services/common/lean.py).
    lean.prepare()
    from services.billing.server import build_server
    from services.billing.settings import BillingSettings
    from services.common.server import serve

    asyncio.run(serve("billing", BillingSettings.load(), build_server))


if __name__ == "__main__":
    main()
