"""structlog configuration: JSON lines in production, console when attached to a terminal.

``merge_contextvars`` runs first, so the request id, method and user bound by the request-context
interceptor appear on every line logged while serving an RPC. Standard-library loggers (grpc,
asyncio, httpx...) go through the same formatter.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

import structlog

# Keys whose values must never reach a log line, whatever the caller passes.
REDACTED_KEYS = frozenset(
    {
        "password",
        "password2",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "api_secret",
        "client_secret",
        "card_number",
    }
)


def _redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event.keys() & REDACTED_KEYS:
        event[key] = "[redacted]"
    return event


class BufferedStreamHandler(logging.StreamHandler):
    """Writes log lines to ``stream`` in batches instead of one write (a system call, and a
    wake-up of whatever reads the pipe) per line: lines wait in memory until ``interval`` s have
    passed (a daemon thread flushes), until ``limit`` characters are waiting, until a WARNING or
    worse line arrives, or until the process exits (``logging.shutdown``, run at exit, flushes
    every handler). A process killed with SIGKILL loses at most the last ``interval`` s of its
    info lines; a warning or an error is never held back."""

    def __init__(self, stream: TextIO, interval: float = 0.05, limit: int = 64 * 1024) -> None:
        super().__init__(stream)
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit
        self._interval = interval
        threading.Thread(target=self._flush_every, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._parts.append(line)  # emit runs under the handler's lock (Handler.handle)
        self._size += len(line)
        if record.levelno >= logging.WARNING or self._size >= self._limit:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if not self._parts:
                return
            text = "".join(self._parts)
            self._parts.clear()
            self._size = 0
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # the reader is gone, or the stream closed at exit
                pass

    def _flush_every(self) -> None:
        event = threading.Event()
        while not event.wait(self._interval):
            self.flush()


def configure_logging(service: str, level: str = "info", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json

    def add_service(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = BufferedStreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
