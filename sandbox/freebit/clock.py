"""``/__sandbox/clock``: the sandbox clock tests move forward (the real platform has none).

``GET`` answers ``{"now": <RFC 3339, JST>, "today": "YYYY-MM-DD", "offsetSeconds": s}``;
``POST {"days": d, "seconds": s}`` (either or both, non-negative numbers) moves it forward and
answers the same shape. The offset is part of the persisted registry and a reset sets it back to 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox.freebit.state import JST, Registry

DAY = 86400.0


def _view(registry: Registry) -> dict[str, Any]:
    now = datetime.fromtimestamp(registry.now(), JST)
    return {
        "now": now.isoformat(),
        "today": now.date().isoformat(),
        "offsetSeconds": registry.clock_offset,
    }


def _seconds(body: Any) -> float:
    if not isinstance(body, dict) or not ({"days", "seconds"} & body.keys()):
        raise ValueError('body must be {"days": d} and/or {"seconds": s}')
    total = 0.0
    for name, scale in (("days", DAY), ("seconds", 1.0)):
        value = body.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        total += value * scale
    return total


def add_clock_routes(app: web.Application, registry: Registry) -> None:
    async def show(_request: web.Request) -> web.Response:
        return web.json_response(_view(registry))

    async def advance(request: web.Request) -> web.Response:
        try:
            registry.advance(_seconds(await request.json()))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(_view(registry))

    app.router.add_get("/__sandbox/clock", show)
    app.router.add_post("/__sandbox/clock", advance)
