"""Hook webhooks: what our WHMCS hook module posts to the portal, signed, queued and retried."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

log = logging.getLogger("sandbox.whmcs.hooks")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    id: str
    event: str
    client_id: str
    body: bytes
    attempts: int = 0
    status: str = "pending"  # pending | delivered | failed
    responses: list[int | str] = field(default_factory=list)  # HTTP status or error per attempt

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "clientId": self.client_id,
            "attempts": self.attempts,
            "status": self.status,
            "responses": list(self.responses),
            "payload": json.loads(self.body),
        }


class HookDispatcher:
    """Queue of hook events, delivered by a few background workers with exponential backoff."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        base_delay: float = 0.2,
        max_attempts: int = 6,
        timeout: float = 5.0,
        workers: int = 2,
    ) -> None:
        self.url, self._secret = url, secret
        self.base_delay, self.max_attempts = base_delay, max_attempts
        self._timeout, self._workers = timeout, max(workers, 1)
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._session is not None:
            await self._session.close()

    def emit(self, event: str, client_id: int | str, data: dict[str, Any]) -> None:
        if not self.url:
            return
        payload: dict[str, Any] = {
            "id": f"evt_{uuid.uuid4().hex}",
            "event": event,
            "occurredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "clientId": str(client_id),
            "data": data,
        }
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        delivery = Delivery(str(payload["id"]), event, str(client_id), body)
        self.deliveries.append(delivery)
        self._queue.put_nowait(delivery)

    def reset(self) -> None:
        """Forget the log and drop queued deliveries (ones in flight finish on their own)."""
        self.deliveries = []
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()

    async def wait_idle(self) -> None:
        await self._queue.join()

    async def _worker(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                await self._deliver(delivery)
            except Exception:  # a worker must survive anything
                log.exception("hook_delivery_crashed id=%s", delivery.id)
                delivery.status = "failed"
            finally:
                self._queue.task_done()

    async def _deliver(self, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WHMCS-Sandbox-Hooks/1.0",
            "X-Portal-Signature": sign(self._secret, delivery.body),
        }
        while delivery.attempts < self.max_attempts:
            delivery.attempts += 1
            outcome = await self._post(delivery.body, headers)
            delivery.responses.append(outcome)
            ok = isinstance(outcome, int) and 200 <= outcome < 300
            log.info(
                "hook_delivery event=%s id=%s attempt=%d outcome=%s",
                delivery.event, delivery.id, delivery.attempts, outcome,
            )  # fmt: skip
            if ok:
                delivery.status = "delivered"
                return
            if delivery.attempts < self.max_attempts:
                await asyncio.sleep(self.base_delay * 2 ** (delivery.attempts - 1))
        delivery.status = "failed"

    async def _post(self, body: bytes, headers: dict[str, str]) -> int | str:
        assert self._session is not None
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__
