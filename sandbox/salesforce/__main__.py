"""``python -m sandbox.salesforce [--host H] [--port P] [--pubsub-port Q]``."""

from __future__ import annotations

import argparse
import asyncio
import os

from sandbox.runner import configure_logging, serve_until_signalled
from sandbox.salesforce.server import start_salesforce


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.salesforce")
    parser.add_argument("--host", default=os.environ.get("SF_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SF_SANDBOX_PORT", "8701")))
    parser.add_argument(
        "--pubsub-port", type=int, default=int(os.environ.get("SF_SANDBOX_PUBSUB_PORT", "8704"))
    )
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("SF_SANDBOX_LOG_LEVEL", "INFO"))
    started = start_salesforce(args.host, args.port, args.pubsub_port)
    asyncio.run(serve_until_signalled(started))


if __name__ == "__main__":
    main()
