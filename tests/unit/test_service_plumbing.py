"""Per-call work the services do once: interceptors reuse a method's wrapped handler, and log
lines are written in batches without holding back a warning or losing a line."""

from __future__ import annotations

import io
import logging
import time
from types import SimpleNamespace
from typing import Any

import grpc

from services.common.interceptors import ErrorMappingInterceptor, RequestContextInterceptor
from services.common.logging import BufferedStreamHandler


async def _behavior(request: Any, ctx: Any) -> Any:
    return request


async def test_an_interceptor_wraps_a_method_once_and_again_for_a_new_handler() -> None:
    first = grpc.unary_unary_rpc_method_handler(_behavior)
    second = grpc.unary_unary_rpc_method_handler(_behavior)
    current = first

    async def continuation(_details: Any) -> Any:
        return current

    for interceptor in (RequestContextInterceptor(), ErrorMappingInterceptor()):
        details = SimpleNamespace(method="/portal.test.v1.Test/Call")
        a = await interceptor.intercept_service(continuation, details)
        b = await interceptor.intercept_service(continuation, details)
        assert a is b and a is not first and a.unary_unary is not _behavior
        current = second  # the chain hands over another handler: wrapped afresh
        c = await interceptor.intercept_service(continuation, details)
        assert c is not a
        other = await interceptor.intercept_service(
            continuation, SimpleNamespace(method="/portal.test.v1.Test/Other")
        )
        assert other is not c
        current = first


def _record(level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord("t", level, __file__, 1, msg, None, None)


def test_log_lines_wait_for_the_interval_but_a_warning_flushes_at_once() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=0.2)
    handler.handle(_record(logging.INFO, "one"))
    assert stream.getvalue() == ""  # held back
    handler.handle(_record(logging.WARNING, "two"))
    assert stream.getvalue() == "one\ntwo\n"  # in order, at once
    handler.handle(_record(logging.INFO, "three"))
    deadline = time.monotonic() + 5
    while "three" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.getvalue() == "one\ntwo\nthree\n"  # the flushing thread wrote it


def test_log_lines_are_written_when_the_buffer_is_full_or_on_flush() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=60, limit=10)
    handler.handle(_record(logging.INFO, "12345"))
    assert stream.getvalue() == ""
    handler.handle(_record(logging.INFO, "67890"))  # 12 characters waiting: over the limit
    assert stream.getvalue() == "12345\n67890\n"
    handler.handle(_record(logging.DEBUG, "last"))
    handler.flush()  # what logging.shutdown does at exit
    assert stream.getvalue().endswith("last\n")
