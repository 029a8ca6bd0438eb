"""A sandbox's state on disk, so a restarted sandbox is the same world (ids are never reused).

Enabled only when ``SANDBOX_STATE_DIR`` is set (``make run`` sets it to ``.run/sandboxes``); test
sandboxes leave it unset and start from their seed data every time.

A sandbox names its *parts*: the live objects holding its data (the WHMCS store, the Salesforce
store and event bus, ...). The whole instance dictionary of every part is pickled, so fields
another change adds to a part are kept without a change here; attributes that are live machinery
rather than data (asyncio primitives, locks) are listed in ``Part.skip``, and any other attribute
that cannot be pickled is left out with a warning. Loading puts the saved attributes back into
the live objects (so references to them stay valid); dataclass instances saved before a field
was added get that field's default.

After every HTTP request the snapshot is taken again and written when it differs from the last
one: to a temporary file in the same directory, fsynced, then renamed over the old file (and the
directory fsynced), so a crash mid-write loses at most that change, never the file. A change made
outside an HTTP request (a Pub/Sub ``Publish``) is written with the next request or at shutdown.
The file is a pickle because it holds the sandbox's own objects, written by the sandbox itself
into the developer's run directory; it is never read from anywhere else.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import os
import pickle
import re
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger("sandbox.persistence")
STATE_DIR_ENV = "SANDBOX_STATE_DIR"
# The world id beside the saved state (``tools/world.py``); a sandbox reset ends the world.
WORLD_FILE = "world.json"
RESET_PATH = "/__sandbox/reset"
_COUNT_REPR = re.compile(r"^count\((-?\d+)(?:, (-?\d+))?\)$")

Snapshot = dict[str, dict[str, Any]]


class StateFileError(RuntimeError):
    """The state file exists but cannot be read back (corrupt, or from an incompatible version)."""


@dataclass(frozen=True)
class Part:
    """One live object (``target()``, read anew each time because a sandbox reset may replace
    it) whose attributes are persisted: ``only`` these when given, minus the ``skip`` ones (live
    machinery, or settings that must come from the current start)."""

    target: Callable[[], object]
    skip: frozenset[str] = frozenset()
    only: frozenset[str] | None = None

    def keeps(self, attr: str) -> bool:
        return attr not in self.skip and (self.only is None or attr in self.only)


# -- pickling ---------------------------------------------------------------------------------


def _new(cls: type[Any]) -> Any:
    return object.__new__(cls)


def _set_dataclass_state(obj: Any, state: dict[str, Any]) -> None:
    """Put a saved dataclass's attributes back, with defaults for fields added since."""
    for f in dataclasses.fields(obj):
        if f.name in state:
            continue
        if f.default is not dataclasses.MISSING:
            state[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            state[f.name] = f.default_factory()
    for name, value in state.items():
        object.__setattr__(obj, name, value)


def _dataclass_state(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


class _Pickler(pickle.Pickler):
    """Pickles dataclass instances by field (so new fields get defaults on load) and
    ``itertools.count`` by its next value (its own pickling is gone in newer Pythons)."""

    def reducer_override(self, obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return (_new, (type(obj),), _dataclass_state(obj), None, None, _set_dataclass_state)
        if isinstance(obj, itertools.count):
            match = _COUNT_REPR.match(repr(obj))
            if match is None:
                raise pickle.PicklingError(f"cannot pickle {obj!r}")
            return (itertools.count, tuple(int(g) for g in match.groups() if g is not None))
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _picklable(value: Any) -> bool:
    try:
        _dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


# -- the file ---------------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync of the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_snapshot(path: Path) -> Snapshot | None:
    """The saved snapshot, or None when there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        loaded = pickle.loads(raw)  # noqa: S301 (our own file, see the module docstring)
    except Exception as exc:  # any unpickling failure means the same thing to the operator
        raise StateFileError(
            f"{path} cannot be loaded ({type(exc).__name__}: {exc}); "
            "`make run FRESH=1` starts a fresh world"
        ) from exc
    if not isinstance(loaded, dict):
        raise StateFileError(f"{path} does not hold a sandbox snapshot")
    return loaded


# -- the persisted state ----------------------------------------------------------------------


class PersistedState:
    """The parts of one sandbox, loaded from and saved to one file."""

    def __init__(self, path: Path, parts: Mapping[str, Part]) -> None:
        self.path = path
        self.parts = dict(parts)
        self._last: bytes | None = None
        self._unpicklable: set[tuple[str, str]] = set()

    def load(self) -> bool:
        """Put the saved state into the parts; False when nothing was saved yet."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):  # from a killed writer
            stale.unlink(missing_ok=True)
        snapshot = read_snapshot(self.path)
        if snapshot is None:
            return False
        for name, part in self.parts.items():
            self._load_part(name, part, snapshot.get(name, {}))
        self._last = self._dump()
        log.info("sandbox_state_loaded path=%s parts=%s", self.path, ",".join(snapshot))
        return True

    def _load_part(self, name: str, part: Part, saved: dict[str, Any]) -> None:
        live = vars(part.target())
        newer = sorted(k for k in live if part.keeps(k) and k not in saved)
        if newer:  # the code gained attributes since the save: they keep their fresh values
            log.warning(
                "sandbox_state_older_than_code part=%s new_attributes=%s fix=%s",
                name, ",".join(newer), "`make run FRESH=1` if the sandbox misbehaves",
            )  # fmt: skip
        live.update({k: v for k, v in saved.items() if part.keeps(k)})

    def save(self) -> bool:
        """Write the state when it changed since the last write; True when it wrote."""
        data = self._dump()
        if data == self._last:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, data)
        self._last = data
        return True

    def _snapshot(self) -> Snapshot:
        return {
            name: {
                attr: value
                for attr, value in vars(part.target()).items()
                if part.keeps(attr) and (name, attr) not in self._unpicklable
            }
            for name, part in self.parts.items()
        }

    def _dump(self) -> bytes:
        snapshot = self._snapshot()
        try:
            return _dumps(snapshot)
        except (pickle.PicklingError, TypeError, AttributeError):
            self._find_unpicklable(snapshot)
            return _dumps(self._snapshot())

    def _find_unpicklable(self, snapshot: Snapshot) -> None:
        for name, attrs in snapshot.items():
            for attr, value in attrs.items():
                if not _picklable(value):
                    self._unpicklable.add((name, attr))
                    log.warning(
                        "sandbox_state_attribute_not_persisted part=%s attribute=%s type=%s",
                        name, attr, type(value).__name__,
                    )  # fmt: skip

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """An aiohttp middleware saving after every request (also a failed one)."""

        @web.middleware
        async def persist(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            try:
                return await handler(request)
            finally:
                self.save()
                if request.path == RESET_PATH:
                    self._end_world()

        return persist

    def _end_world(self) -> None:
        """A reset put this sandbox back to its seed data, so its ids start again from there:
        the portal database no longer belongs to it. Dropping the world id makes the next
        ``make run`` say so instead of serving sign-ups that collide with old users."""
        (self.path.parent / WORLD_FILE).unlink(missing_ok=True)
        log.warning(
            "sandbox_reset_ended_the_world path=%s fix=%s",
            self.path.parent, "restart with `make run FRESH=1`",
        )  # fmt: skip


def state_dir() -> Path | None:
    raw = os.environ.get(STATE_DIR_ENV, "")
    return Path(raw) if raw else None


def persist_app(
    app: web.Application, name: str, parts: Mapping[str, Part]
) -> PersistedState | None:
    """Load ``<state dir>/<name>.pickle`` into ``parts`` (or save the fresh state: the first
    start of a world) and save them after every request of ``app`` and when it shuts down;
    nothing when no state directory is configured."""
    directory = state_dir()
    if directory is None:
        return None
    state = PersistedState(directory / f"{name}.pickle", parts)
    state.load()
    state.save()  # a new world's seed data is fixed now (some of it depends on the date)
    app.middlewares.append(state.middleware())

    async def save_on_cleanup(_app: web.Application) -> None:
        state.save()

    app.on_cleanup.append(save_on_cleanup)
    return state
