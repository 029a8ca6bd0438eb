"""``make run``: start the whole portal locally and keep it running until Ctrl-C / SIGTERM.

Checks Postgres and Redis (starting throwaway ones when nothing answers), creates the database,
settles the world (``tools/world.py``: the sandboxes' saved state in ``.run/sandboxes`` and the
portal database must belong together; ``--fresh`` wipes both first), starts the sandboxes, the four
services and Envoy, waits for ``/readyz``, prints where everything listens and the measured
start-up time, then streams every child's output with a name prefix. On Ctrl-C, SIGTERM or
SIGHUP (also when make, which keeps those to itself, is the one terminated) it stops every child
it started, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

from tools import infra, pg_role, redis_acl, signals, world
from tools.stack import ROOT, LineSink, Ports, Stack, StackConfig, port_is_free

COLORS = ["36", "32", "33", "35", "34", "31", "96", "92", "93"]


def say(*values: object, err: bool = False) -> None:
    """``print`` to stdout (stderr), or nothing once nobody reads it (``make run | head``, a closed
    terminal): the stack keeps running, and a Ctrl-C still stops it in order."""
    with contextlib.suppress(OSError):
        print(*values, file=sys.stderr if err else sys.stdout, flush=True)


def console_sink(tty: bool) -> LineSink:
    """Every process's lines on stdout, prefixed with its name (coloured on a terminal). The
    lines keep being read when stdout is gone, so no child blocks on a full pipe."""
    colors: dict[str, str] = {}

    def sink(name: str, line: str) -> None:
        color = colors.setdefault(name, COLORS[len(colors) % len(COLORS)])
        prefix = f"{name:>10} | "
        if tty:
            prefix = f"\x1b[{color}m{prefix}\x1b[0m"
        say(prefix + line)

    return sink


async def _ensure_postgres(stack: Stack, url: str, run_dir: Path) -> None:
    try:
        await infra.ensure_postgres(url)
        return
    except RuntimeError:
        argv = infra.postgres_command(url, run_dir / "postgres")
        if argv is None:
            raise RuntimeError(
                "Postgres does not answer and no Postgres is installed: install it "
                "(apt-get install postgresql) or set DATABASE_URL"
            ) from None
    say("starting a throwaway Postgres in .run/postgres")
    await stack.start_child("postgres", argv)
    if not await infra.wait_for(lambda: infra.postgres_answers(url), within=30):
        raise RuntimeError("the throwaway Postgres did not come up")


async def _ensure_redis(stack: Stack, url: str, run_dir: Path) -> None:
    if await infra.redis_answers(url):
        return
    argv = infra.redis_command(url, run_dir / "redis")
    if argv is None:
        raise RuntimeError(
            "Redis does not answer and redis-server is not installed: install it "
            "(apt-get install redis-server) or set REDIS_URL"
        )
    say("starting a throwaway Redis in .run/redis")
    await stack.start_child("redis", argv)
    if not await infra.wait_for(lambda: infra.redis_answers(url), within=10):
        raise RuntimeError("the throwaway Redis did not come up")


async def _settle_world(place: world.WorldPlace, fresh: bool) -> None:
    if fresh:
        keys = await world.wipe(place)
        say(
            f"fresh world: wiped {place.state_dir}, database {place.database_name!r} and "
            f"{keys} cache keys {place.cache_namespace}:*"
        )
    await infra.create_database(place.database_url)
    world_id = await world.settle(place)
    say(f"world {world_id} (sandbox state in {place.state_dir})")


def _ports_in_use(ports: Ports) -> list[str]:
    """The stack's ports something else already listens on (another ``make run``?)."""
    return [f"{name} {port}" for name, port in vars(ports).items() if not port_is_free(port)]


async def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    database_url, redis_url = infra.urls_from_env()
    run_dir: Path = args.run_dir
    place = world.WorldPlace(
        database_url, redis_url, run_dir / "sandboxes", world.cache_namespace()
    )
    sink = console_sink(sys.stdout.isatty())
    config = StackConfig(
        database_url,
        redis_url,
        place.cache_namespace,
        run_dir=run_dir,
        replicas=args.replicas,
        sandbox_state_dir=place.state_dir,
    )
    stack = Stack(config, sink=sink)
    drop_redis_user: redis_acl.Drop | None = None
    drop_pg_password: pg_role.Drop | None = None
    try:
        try:
            await _ensure_postgres(stack, database_url, run_dir)
            await _ensure_redis(stack, redis_url, run_dir)
            await _settle_world(place, args.fresh)
            taken = _ports_in_use(config.ports)
            if taken:
                raise RuntimeError(
                    f"ports already in use (another `make run`?): {', '.join(taken)}"
                )
            # The services reach Redis as a user of this stack's own (deleted on stop) and
            # Postgres as the role that owns the portal database (its password cleared on stop).
            config.redis_url, drop_redis_user = await redis_acl.stack_user(redis_url, "run")
            config.database_url, drop_pg_password = await pg_role.stack_role(database_url)
            await stack.start(within=args.timeout)
        except world.WorldMismatch as exc:
            say(f"start-up refused: {exc}", err=True)
            return 2
        except Exception as exc:
            say(f"start-up failed: {exc}", err=True)
            return 1
        elapsed = time.perf_counter() - started
        say("\nportal is ready\n")
        for what, where in stack.where():
            say(f"  {what:<24} {where}")
        say(f"\n  ready in {elapsed:.2f} s  (Ctrl-C stops everything)\n")
        # Until SIGINT, SIGTERM or SIGHUP cancels this task (tools/signals.py).
        await asyncio.Event().wait()
        return 0
    finally:
        say("\nstopping...")
        await stack.stop()
        if drop_redis_user is not None:
            await drop_redis_user()
        if drop_pg_password is not None:
            await drop_pg_password()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for /readyz")
    parser.add_argument("--replicas", type=int, default=1, help="processes per service")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start a fresh world: wipe the sandboxes' state, the portal database and its cache",
    )
    parser.add_argument(
        "--run-dir", type=Path, default=ROOT / ".run", help="keys, sandbox state, throwaway servers"
    )
    sys.exit(signals.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
