"""``python -m sandbox.whmcs [--host 127.0.0.1] [--port 8702] [--webhook-url URL]``."""

from __future__ import annotations

import argparse
import asyncio
import os

from sandbox.runner import configure_logging, serve_until_signalled
from sandbox.whmcs.app import start_whmcs
from sandbox.whmcs.settings import settings_from_env


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.whmcs", description=__doc__)
    env = os.environ
    parser.add_argument("--host", default=env.get("WHMCS_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("WHMCS_SANDBOX_PORT", "8702")))
    parser.add_argument("--webhook-url", default=None, help='portal hook URL; "" disables hooks')
    parser.add_argument("--public-url", default=None, help="base of SSO redirect URLs")
    parser.add_argument("--log-level", default=env.get("WHMCS_SANDBOX_LOG_LEVEL", "INFO"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    configure_logging(args.log_level)
    settings = settings_from_env().with_overrides(
        {"webhook_url": args.webhook_url, "public_url": args.public_url}
    )
    asyncio.run(serve_until_signalled(start_whmcs(args.host, args.port, settings)))


if __name__ == "__main__":
    main()
