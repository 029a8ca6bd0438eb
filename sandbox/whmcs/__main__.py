"""``python -m sandbox.whmcs [--host 127.0.0.1] [--port 8702] [--webhook-url URL]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

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


async def serve(args: argparse.Namespace) -> None:
    settings = settings_from_env().with_overrides(
        {"webhook_url": args.webhook_url, "public_url": args.public_url}
    )
    running = await start_whmcs(args.host, args.port, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()


def main() -> None:
    args = parse_args()
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
