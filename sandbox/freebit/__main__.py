"""``python -m sandbox.freebit [--host 127.0.0.1] [--port 8703]``."""

from __future__ import annotations

import argparse
import asyncio
import os

from sandbox.freebit.app import start_freebit
from sandbox.freebit.settings import settings_from_env
from sandbox.runner import configure_logging, serve_until_signalled


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.freebit", description=__doc__)
    env = os.environ
    parser.add_argument("--host", default=env.get("FREEBIT_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("FREEBIT_SANDBOX_PORT", "8703")))
    parser.add_argument("--activation-delay", type=float, default=None, help="seconds")
    parser.add_argument("--log-level", default=env.get("FREEBIT_SANDBOX_LOG_LEVEL", "INFO"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    configure_logging(args.log_level)
    settings = settings_from_env().with_overrides({"activation_delay": args.activation_delay})
    asyncio.run(serve_until_signalled(start_freebit(args.host, args.port, settings)))


if __name__ == "__main__":
    main()
