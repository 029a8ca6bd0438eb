"""``python -m sandbox.salesforce [--host H] [--port P] [--pubsub-port Q]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .server import start_salesforce


async def _main(host: str, port: int, pubsub_port: int) -> None:
    running = await start_salesforce(host, port, pubsub_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.salesforce")
    parser.add_argument("--host", default=os.environ.get("SF_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SF_SANDBOX_PORT", "8701")))
    parser.add_argument(
        "--pubsub-port", type=int, default=int(os.environ.get("SF_SANDBOX_PUBSUB_PORT", "8704"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SF_SANDBOX_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(_main(args.host, args.port, args.pubsub_port))


if __name__ == "__main__":
    main()
