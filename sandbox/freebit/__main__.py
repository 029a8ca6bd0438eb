"""``python -m sandbox.freebit [--host 127.0.0.1] [--port 8703]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from sandbox.freebit.app import start_freebit
from sandbox.freebit.settings import settings_from_env


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.freebit", description=__doc__)
    env = os.environ
    parser.add_argument("--host", default=env.get("FREEBIT_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("FREEBIT_SANDBOX_PORT", "8703")))
    parser.add_argument("--activation-delay", type=float, default=None, help="seconds")
    parser.add_argument("--log-level", default=env.get("FREEBIT_SANDBOX_LOG_LEVEL", "INFO"))
    return parser.parse_args()


async def serve(args: argparse.Namespace) -> None:
    settings = settings_from_env().with_overrides({"activation_delay": args.activation_delay})
    running = await start_freebit(args.host, args.port, settings)
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
