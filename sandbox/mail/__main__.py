"""``python -m sandbox.mail [--host 127.0.0.1] [--port 8705] [--smtp-port 8025]``."""

from __future__ import annotations

import argparse
import asyncio
import os

from sandbox.mail.app import start_mail
from sandbox.mail.settings import settings_from_env
from sandbox.runner import configure_logging, serve_until_signalled


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.mail", description=__doc__)
    env = os.environ
    parser.add_argument("--host", default=env.get("MAIL_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("MAIL_SANDBOX_PORT", "8705")))
    parser.add_argument(
        "--smtp-port", type=int, default=int(env.get("MAIL_SANDBOX_SMTP_PORT", "8025"))
    )
    parser.add_argument("--log-level", default=env.get("MAIL_SANDBOX_LOG_LEVEL", "INFO"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    configure_logging(args.log_level)
    settings = settings_from_env()
    asyncio.run(serve_until_signalled(start_mail(args.host, args.port, args.smtp_port, settings)))


if __name__ == "__main__":
    main()
