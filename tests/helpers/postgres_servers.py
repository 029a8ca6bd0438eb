"""A throwaway Postgres server for tests that stop and restart it (``tools.infra.postgres_command``:
initdb on first use, trust auth on 127.0.0.1, dropped to the ``postgres`` user when root); stopped
by PID, never the shared server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.helpers.redis_servers import free_port
from tools import infra


class PostgresProcess:
    """One private ``postgres`` on a free port; ``stop``/``start`` keep the port and the data."""

    def __init__(self) -> None:
        self.port = free_port()
        # Under /tmp (world-traversable), not pytest's 0700 temp root: the server may run as the
        # postgres user.
        self.run_dir = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.log = self.run_dir / "postgres.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, within: float = 30.0) -> PostgresProcess:
        argv = await asyncio.to_thread(infra.postgres_command, self.url, self.run_dir)
        if argv is None:
            raise RuntimeError("no Postgres binaries installed (initdb/postgres)")
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=log, stderr=subprocess.STDOUT
            )
        if not await infra.wait_for(lambda: infra.postgres_answers(self.url), within):
            await self.stop()
            raise RuntimeError(f"postgres did not start: {self.log.read_text()[-800:]}")
        return self

    async def stop(self, grace: float = 15.0) -> None:
        """A fast shutdown (SIGINT: open sessions are terminated, as in a restart); SIGKILL when
        it takes longer than ``grace``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def remove(self) -> None:
        """Stop the server and delete its data directory."""
        await self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)
