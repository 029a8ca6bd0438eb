"""services/common/lean.py: what keeps a service process small, and the optimization level every
way of starting a service uses."""

from __future__ import annotations

import ast
import asyncio
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from services.common import lean
from tests.helpers.fresh import ROOT, run_python
from tools.stack import Ports, StackConfig


def test_optional_imports_are_absent_in_a_lean_process() -> None:
    code = (
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "for name in lean.OPTIONAL_IMPORTS:\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        continue\n"
        "    raise SystemExit(f'{name} imported')\n"
        "import structlog, httpx\n"
    )
    run_python(code)


def test_arenas_and_trim_on_glibc() -> None:
    # The development machine, CI and the image run glibc: both calls take effect there.
    assert lean.limit_malloc_arenas()
    assert lean.trim()
    assert lean.resident_bytes() > 1 << 20


class Recorder:
    """Stands in for the process's resident size and counts the trims."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.trims = 0

    def resident(self) -> int:
        return self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]

    def trim(self) -> bool:
        self.trims += 1
        return True


async def _run(
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    *,
    interval: float,
    release: Callable[[], Awaitable[int]] | None = None,
) -> None:
    monkeypatch.setattr(lean, "resident_bytes", recorder.resident)
    monkeypatch.setattr(lean, "trim", recorder.trim)
    task = asyncio.create_task(
        lean.trim_periodically(interval, check_s=0.01, growth=100, release=release)
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_growth_trims_before_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    # Baseline 1,000; the first check sees 1,150 (grown by more than 100): trim; the size after
    # the trim (1,000) is the new baseline, which later checks do not exceed by 100.
    recorder = Recorder([1_000, 1_150, 1_000, 1_050])
    await _run(recorder, monkeypatch, interval=3600)
    assert recorder.trims == 1


async def test_a_quiet_process_is_trimmed_only_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=3600)
    assert recorder.trims == 0
    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=0.05)
    assert 2 <= recorder.trims <= 4  # every 0.05 s for 0.2 s


async def test_no_interval_no_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder([1_000, 5_000])
    monkeypatch.setattr(lean, "trim", recorder.trim)
    await asyncio.wait_for(lean.trim_periodically(0), 1)
    assert recorder.trims == 0


async def test_what_a_release_gives_back_is_trimmed_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A quiet process (never trimmed in the interval), whose release hook lets go of something
    # at its third check: that check trims; a hook that fails does not stop the checks.
    calls: list[int] = []

    async def release() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("redis went away")
        return 3 if len(calls) == 3 else 0

    recorder = Recorder([1_000])
    await _run(recorder, monkeypatch, interval=3600, release=release)
    assert len(calls) >= 5
    assert recorder.trims == 1


def test_every_start_runs_the_services_at_the_same_optimization_level(tmp_path: Path) -> None:
    # make run, the test and bench stacks (tools/stack.py) and the image (compose, Kubernetes).
    config = StackConfig("postgresql://x@127.0.0.1/db", "redis://127.0.0.1/0", ports=Ports.free(),
                         run_dir=tmp_path, with_sandboxes=False)  # fmt: skip
    assert config.env()["PYTHONOPTIMIZE"] == "2"
    assert config.env()["PYTHONNODEBUGRANGES"] == "1"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "PYTHONOPTIMIZE=2" in dockerfile
    assert "    PYTHONNODEBUGRANGES=1 \\\n" in dockerfile  # the runtime's ENV
    # ... with the bytecode of that level in the image, so no process compiles its dependencies.
    assert "compileall -q -j 0 -o 2 /opt/venv/lib" in dockerfile
    assert "UV_COMPILE_BYTECODE" not in dockerfile


def test_without_debug_ranges_code_loaded_from_bytecode_has_no_column_tables() -> None:
    # The flag acts as Python loads a module, from an existing .pyc too (no recompile needed);
    # line numbers stay.
    code = (
        "import services.common.lean as m\n"
        "spots = list(m.trim.__code__.co_positions())\n"
        "assert all(p[2] is None and p[0] for p in spots), spots\n"
    )
    env = {**os.environ, "PYTHONNODEBUGRANGES": "1"}
    run_python(code, flags=("-OO",), env=env)


def test_a_service_imports_under_oo() -> None:
    # Nothing a service imports needs its docstrings or asserts at import time.
    code = "import services.identity.server, services.billing.server, " \
           "services.commerce.server, services.support.server, simple_salesforce"  # fmt: skip
    run_python(code, flags=("-OO",))


def test_the_salesforce_client_leaves_the_metadata_and_bulk_apis_out_until_used() -> None:
    # What a service process does (services.common.clients first, then simple-salesforce at the
    # first call): zeep, lxml and more_itertools stay out; sf.mdapi and sf.bulk2 still build the
    # real clients (the Metadata API's from the WSDL shipped with simple-salesforce: no network).
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "from services.common.clients import salesforce, salesforce_http\n"
        "from simple_salesforce import Salesforce\n"
        "assert lean.defer_unused_imports() == []\n"
        "sf = Salesforce(session_id='s', instance='acme.my.salesforce.com')\n"
        "out = sorted(m for m in sys.modules if m.split('.')[0] in ('zeep', 'lxml'))\n"
        "assert not out, out\n"
        "mdapi = sf.mdapi\n"
        "from simple_salesforce import metadata\n"
        "assert type(mdapi) is metadata.SfdcMetadataApi, type(mdapi)\n"
        "assert metadata.__file__.endswith('metadata.py') and 'zeep' in sys.modules\n"
        "assert sys.modules['simple_salesforce.metadata'] is metadata\n"
        "assert sf.mdapi is mdapi and mdapi.metadata_url == sf.metadata_url\n"
        "assert type(mdapi.CustomObject) is metadata.MetadataType\n"
        "assert 'more_itertools' not in sys.modules\n"
        "from simple_salesforce import bulk2\n"
        "assert type(sf.bulk2) is bulk2.SFBulk2Handler and 'more_itertools' in sys.modules\n"
        "assert sf.bulk2.bulk2_url == sf.bulk2_url\n"
    )


def test_requests_guesses_an_encoding_with_the_real_charset_detection() -> None:
    # requests imports charset_normalizer (a stand-in until used) without a warning about its
    # version; a body without a declared encoding is guessed by the real library.
    run_python(
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "import services.common.clients\n"
        "import requests\n"
        "assert 'charset_normalizer.api' not in sys.modules, 'loaded at import'\n"
        "response = requests.models.Response()\n"
        "response._content = 'Größe: zwölf Äpfel, süß'.encode('cp1252') * 4\n"
        "guess = response.apparent_encoding\n"
        "from charset_normalizer import detect\n"
        "assert 'charset_normalizer.api' in sys.modules\n"
        "assert guess == detect(response._content)['encoding'] is not None, guess\n"
        "response.encoding = None\n"
        "assert 'zwölf' in response.text, response.text\n"
    )


def test_too_late_to_defer_what_is_already_imported() -> None:
    run_python(
        "import configparser, html.entities, redis, simple_salesforce, sys\n"
        "import cryptography.x509, google.protobuf.internal.python_message\n"
        "import cryptography.hazmat.primitives.serialization, fastavro\n"
        "import cryptography.hazmat.backends.openssl.backend\n"
        "from services.common import lean\n"
        "assert lean.defer_unused_imports() == [], 'all are already imported'\n"
        "assert 'zeep' in sys.modules and 'charset_normalizer.api' in sys.modules\n"
        "assert sys.modules['redis.cluster'].__spec__.origin.endswith('cluster.py')\n"
    )


def _imports(tree: ast.AST, package: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module, names) of every import in a module of ``package`` (relative ones resolved)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            module = f"{package}.{node.module or ''}" if node.level else node.module or ""
            yield module.rstrip("."), tuple(alias.name for alias in node.names)


def _trees(package: str) -> dict[str, ast.AST]:
    folder = Path(importlib.util.find_spec(package).origin).parent  # type: ignore[arg-type, union-attr]
    return {path.stem: ast.parse(path.read_text()) for path in sorted(folder.glob("*.py"))}


@pytest.mark.parametrize(
    ("deferred", "name", "heavy"),
    [
        (lean.METADATA_API, "SfdcMetadataApi", {"zeep", "lxml"}),
        (lean.BULK2_API, "SFBulk2Handler", {"more_itertools"}),
    ],
)
def test_simple_salesforce_still_has_the_import_shape_the_deferral_relies_on(
    deferred: str, name: str, heavy: set[str]
) -> None:
    # The stand-in of a simple-salesforce module (services/common/lean.py) has one name, a
    # function that builds the real object. It keeps the heavy imports out only while (a) that
    # module is the only one of the package that imports them and (b) the rest of the package
    # takes only that name from it and calls it (a lazy property or attribute of Salesforce),
    # never subclasses it. A simple-salesforce upgrade that changes either fails here: check the
    # stand-in against the new version.
    importers: set[str] = set()
    taken: dict[str, set[str]] = {}
    trees = _trees("simple_salesforce")
    for stem, tree in trees.items():
        for module, names in _imports(tree, "simple_salesforce"):
            if module.split(".")[0] in heavy:
                importers.add(stem)
            if module == deferred:
                taken.setdefault(stem, set()).update(names)
    assert importers == {deferred.rpartition(".")[2]}
    assert taken == {"api": {name}}
    calls = [
        node
        for node in ast.walk(trees["api"])
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
    ]
    bases = [
        base
        for node in ast.walk(trees["api"])
        if isinstance(node, ast.ClassDef)
        for base in node.bases
        if getattr(base, "id", None) == name
    ]
    assert len(calls) == 1 and not bases


def test_requests_still_has_the_import_shape_the_deferral_relies_on() -> None:
    # The stand-in of charset_normalizer has __version__ only; requests must take nothing else
    # from it at import and use only its detect() (and __name__, __version__) later.
    taken: set[str] = set()
    used: set[str] = set()
    for tree in _trees("requests").values():
        for module, names in _imports(tree, "requests"):
            if module == lean.CHARSET_DETECTION:
                taken.update(names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) in (
                "chardet",
                "charset_normalizer",
            ):
                used.add(node.attr)
    assert taken == {"__version__"}
    assert used == {"detect", "__name__", "__version__"}


def test_a_deferral_answered_in_one_thread_never_hides_a_module_from_another(
    tmp_path: Path,
) -> None:
    """The import system walks ``sys.meta_path`` by index and holds its lock only around each
    finder's call, so a thread can take it between two finders of another thread's walk. Here
    that interleaving is made certain: while the walk for ``target`` is at the finder after the
    deferral, the deferred module is imported (as Salesforce's worker thread does while the event
    loop's thread imports). A deferral that left the list then would shift the rest under the
    walk, which would skip ``PathFinder`` and fail to find a module that is there."""
    (tmp_path / "lean_walk_target.py").write_text("FOUND = True\n")
    deferred = lean._Deferred(lean.Deferral("lean_walk_deferred"))

    class ImportsTheDeferredModuleMidWalk(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: object, target: object = None) -> None:
            if fullname == "lean_walk_target":
                importlib.import_module("lean_walk_deferred")
            return None

    saved_path, saved_meta_path = list(sys.path), list(sys.meta_path)
    sys.path.insert(0, str(tmp_path))
    sys.meta_path[:] = [deferred, ImportsTheDeferredModuleMidWalk(), importlib.machinery.PathFinder]
    importlib.invalidate_caches()
    try:
        target = importlib.import_module("lean_walk_target")
        stand_in = sys.modules["lean_walk_deferred"]
    finally:
        sys.meta_path[:] = saved_meta_path
        sys.path[:] = saved_path
        for name in ("lean_walk_target", "lean_walk_deferred"):
            sys.modules.pop(name, None)
    assert target.FOUND
    assert isinstance(stand_in.__spec__, lean._Spec)
    # Answered once: the next import of that name goes to the ordinary finders.
    assert deferred.find_spec("lean_walk_deferred", None) is None


def _imports_in_context(package: str) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    """(importing module, where: "module" / "function" / "type-checking", imported module, names)
    of every import in ``package``, relative ones resolved; ``import a.b`` gives ``a.b``, ()."""
    folder = Path(importlib.util.find_spec(package).origin).parent  # type: ignore[arg-type, union-attr]
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        here = ".".join(parts if path.stem != "__init__" else parts[:-1])
        own = here if path.stem == "__init__" else here.rpartition(".")[0]
        for where, module, names in _walk_imports(ast.parse(path.read_text()), own, "module"):
            yield here, where, module, names


def _walk_imports(
    node: ast.AST, own: str, where: str
) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    for child in ast.iter_child_nodes(node):
        inner = where
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = "function"
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            inner = "type-checking" if where == "module" else where
        if isinstance(child, ast.ImportFrom):
            base = own
            for _ in range(child.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{child.module or ''}".rstrip(".") if child.level else child.module
            names = tuple(alias.name for alias in child.names)
            yield where, module or "", names
            for name in names:  # ``from redis import cluster``: the module itself
                yield where, f"{module}.{name}", ()
        elif isinstance(child, ast.Import):
            for alias in child.names:
                yield where, alias.name, ()
        yield from _walk_imports(child, own, inner)


REDIS_DEFERRED = {
    lean.REDIS_CLUSTER: {"RedisCluster"},
    lean.REDIS_ASYNC_CLUSTER: {"RedisCluster"},
    lean.REDIS_KEYSPACE: set(lean.REDIS_KEYSPACE_NAMES),
    lean.REDIS_ASYNC_KEYSPACE: set(lean.REDIS_ASYNC_KEYSPACE_NAMES),
}


def test_redis_still_has_the_import_shape_the_deferral_relies_on() -> None:
    # The stand-ins of redis-py's cluster client and keyspace-notification modules have a proxy
    # for each name the rest of redis-py takes from them at import. They keep the modules out
    # only while (a) the modules of redis-py a standalone client loads take only those names at
    # import (the packages ``redis`` and ``redis.asyncio``, which re-export them; the multi-database
    # health checks, which a service does not load, take ``RedisCluster`` for ``isinstance``), (b)
    # those packages do nothing else with them at import, and (c) the modules that import them
    # inside a function (a client's ``keyspace_notifications()``) only call what they take and
    # nothing subclasses them. An upgrade that changes this fails here: check the stand-ins.
    deferred = set(REDIS_DEFERRED)
    at_import: dict[str, dict[str, set[str]]] = {}
    in_functions: dict[str, set[str]] = {}
    for here, where, module, names in _imports_in_context("redis"):
        if module not in deferred or here in deferred:
            continue
        if where == "module":
            at_import.setdefault(here, {}).setdefault(module, set()).update(names)
        elif where == "function":
            in_functions.setdefault(here, set()).update(names)
    assert at_import == {
        "redis": {
            lean.REDIS_CLUSTER: {"RedisCluster"},
            lean.REDIS_KEYSPACE: set(lean.REDIS_KEYSPACE_NAMES),
        },
        "redis.asyncio": {
            lean.REDIS_ASYNC_CLUSTER: {"RedisCluster"},
            lean.REDIS_ASYNC_KEYSPACE: set(lean.REDIS_ASYNC_KEYSPACE_NAMES),
        },
        "redis.asyncio.multidb.healthcheck": {
            lean.REDIS_CLUSTER: {"RedisCluster"},
            lean.REDIS_ASYNC_CLUSTER: {"RedisCluster"},
        },
    }, at_import
    assert in_functions == {
        "redis.client": {"KeyspaceNotifications"},
        "redis.asyncio.client": {"AsyncKeyspaceNotifications"},
    }, in_functions
    folder = Path(importlib.util.find_spec("redis").origin).parent  # type: ignore[arg-type, union-attr]
    proxied = set().union(*REDIS_DEFERRED.values())
    for here in ("redis", "redis.asyncio"):
        tree = ast.parse((folder.parent / here.replace(".", "/") / "__init__.py").read_text())
        used = {
            node.id
            for stmt in tree.body
            if not isinstance(stmt, ast.ImportFrom)
            for node in ast.walk(stmt)
            if isinstance(node, ast.Name)
        }
        assert not used & proxied, (here, used & proxied)
    for here, names in in_functions.items():
        tree = ast.parse((folder.parent / here.replace(".", "/")).with_suffix(".py").read_text())
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
                assert id(node) in called, (here, node.id, node.lineno)
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and path.stem not in ("cluster",):
                bases = {getattr(b, "id", None) for b in node.bases}
                assert not bases & {"RedisCluster"}, (path, node.name)


@pytest.mark.parametrize("service", ["identity", "billing", "commerce", "support"])
def test_a_service_leaves_unused_library_modules_out(service: str) -> None:
    # A service's start (its __main__: the deferrals, then its imports): redis-py's cluster
    # and keyspace-notification modules and html.entities are stand-ins, and the names the
    # service takes are proxies. Without __main__'s call, services.common.cache registers the
    # redis-py ones before redis-py's import.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "lean.defer_unused_imports()\n"
        f"import services.{service}.server, services.{service}.settings\n"
        f"for name in {sorted({*REDIS_DEFERRED, lean.HTML_ENTITIES})!r}:\n"
        "    assert isinstance(sys.modules[name].__spec__, lean._Spec), name\n"
        f"for name in {[lean.X509, lean.PROTOBUF_PYTHON_MESSAGE, lean.SSH_KEYS]!r}:\n"
        "    assert isinstance(sys.modules[name].__spec__, lean._Spec), name\n"
        "config_files = sys.modules.get(lean.CONFIG_FILES)  # with asyncpg only\n"
        "assert config_files is None or isinstance(config_files.__spec__, lean._Spec)\n"
        f"assert (config_files is None) == ({service!r} in ('billing', 'support'))\n"
        "from services.common.cache import cache, client\n"
        "assert isinstance(cache.RedisCluster, lean._Proxy)\n"
        "assert isinstance(client.RedisCluster, lean._Proxy)\n"
        # The settings are read without pydantic (services/common/envsettings.py), which the
        # development environment still has installed for the tests' own tools.
        "assert not [m for m in sys.modules if m.split('.')[0].startswith('pydantic')]\n"
    )


def test_a_proxy_in_a_union_is_not_loaded() -> None:
    # ``Redis | RedisCluster`` (services/common/cache/client.py's RedisClient) at import: a
    # typing.Union of the class and the proxy, answering isinstance without the real module.
    run_python(
        "import sys\n"
        "import services.common.cache\n"
        "from redis.asyncio import Redis, RedisCluster\n"
        "from services.common.cache.client import RedisClient\n"
        "assert RedisClient.__args__ == (Redis, RedisCluster), RedisClient\n"
        "assert (RedisCluster | None).__args__ == (RedisCluster, type(None))\n"
        "client = Redis()\n"
        "assert isinstance(client, RedisClient) and not isinstance(object(), RedisClient)\n"
        "assert isinstance(sys.modules['redis.asyncio.cluster'].__spec__,\n"
        "                  services.common.lean._Spec)\n"
    )


def test_every_service_prepares_the_process_before_its_imports() -> None:
    # Each ``python -m services.<svc>`` calls lean.prepare first thing (before the service's
    # imports, which reach html.entities through prometheus_client's http.server, and before any
    # thread starts: the arena limit).
    for service in ("identity", "billing", "commerce", "support"):
        tree = ast.parse((ROOT / "services" / service / "__main__.py").read_text())
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        first = main.body[0]
        assert isinstance(first, ast.Expr) and ast.unparse(first) == "lean.prepare()", service
        assert isinstance(main.body[1], ast.ImportFrom), service


_HEAPS = (
    "import ctypes, os, tempfile, threading\n"
    "def heaps():\n"
    "    libc = ctypes.CDLL(None)\n"
    "    libc.fopen.restype = ctypes.c_void_p\n"
    "    path = tempfile.mktemp()\n"
    "    out = libc.fopen(path.encode(), b'w')\n"
    "    libc.malloc_info(0, ctypes.c_void_p(out))\n"
    "    libc.fclose(ctypes.c_void_p(out))\n"
    "    with open(path) as f:\n"
    "        text = f.read()\n"
    "    os.unlink(path)\n"
    "    return text.count('<heap nr=')\n"
    "def allocate():\n"
    "    kept = [bytearray(4096) for _ in range(200)]\n"
    "    done.wait()\n"
    "done = threading.Event()\n"
    "threads = [threading.Thread(target=allocate) for _ in range(4)]\n"
    "for t in threads: t.start()\n"
    "count = heaps()\n"
    "done.set()\n"
    "for t in threads: t.join()\n"
)


def test_prepare_skips_the_optional_imports_limits_the_arenas_and_defers() -> None:
    # What each service's __main__ gets from lean.prepare(): the optional packages absent, every
    # installed deferral registered (the names it returns; their imports give stand-ins), and
    # one malloc arena for the threads started after it (glibc's malloc_info lists one heap; the
    # same threads without it open their own).
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "names = lean.prepare()\n"
        "assert names == [d.name for d in lean.DEFERRALS], names\n"
        "assert all(sys.modules[n] is None for n in lean.OPTIONAL_IMPORTS)\n"
        "import html, configparser, cryptography.x509, xml.dom.minidom\n"
        "for name in names:\n"
        "    __import__(name)\n"
        "    assert isinstance(sys.modules[name].__spec__, lean._Spec), name\n"
        + _HEAPS
        + "assert count == 1, count\n"
    )
    run_python(_HEAPS + "assert count > 1, count\n")


def test_html_still_has_the_import_shape_the_deferral_relies_on() -> None:
    # The stand-in of html.entities has html5 only, as a read-only mapping: ``html`` takes only
    # that name at import, and reads it only inside a function, with ``in`` and a subscript.
    folder = Path(importlib.util.find_spec("html").origin).parent  # type: ignore[arg-type, union-attr]
    tree = ast.parse((folder / "__init__.py").read_text())
    taken = [
        (node.module, [(a.name, a.asname) for a in node.names])
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
    ]
    assert (lean.HTML_ENTITIES, [("html5", "_html5")]) in taken
    assert [m for m, _ in taken].count(lean.HTML_ENTITIES) == 1
    uses: list[str] = []
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id == "_html5":
                assert isinstance(stmt, ast.FunctionDef), ast.unparse(stmt)[:80]
                uses.append(stmt.name)
    assert uses == ["_replace_charref"] * 4, uses
    function = next(s for s in tree.body if getattr(s, "name", "") == "_replace_charref")
    reads = []
    for node in ast.walk(function):
        if isinstance(node, ast.Compare) and [getattr(c, "id", None) for c in node.comparators] == [
            "_html5"
        ]:
            reads.append("in" if isinstance(node.ops[0], ast.In) else "other")
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "_html5":
            reads.append("[]")
    assert sorted(reads) == ["[]", "[]", "in", "in"], reads


def test_html_unescape_works_with_the_entities_deferred() -> None:
    # A service's start (the deferrals first): html.entities is a stand-in after the imports;
    # unescaping without a named reference leaves it so, a named one loads the real table.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "lean.defer_unused_imports()\n"
        "import services.billing.server, html\n"
        "stand_in = sys.modules['html.entities']\n"
        "assert isinstance(stand_in.__spec__, lean._Spec)\n"
        "assert html.unescape('a &#233; &#x41; plain') == 'a é A plain'\n"
        "assert isinstance(sys.modules['html.entities'].__spec__, lean._Spec)\n"
        "assert html.unescape('&eacute;&notit; &amp;&bogus;') == 'é¬it; &&bogus;'\n"
        "import html.entities as real\n"
        "assert not isinstance(real.__spec__, lean._Spec)\n"
        "assert len(stand_in.html5) == len(real.html5) > 2000\n"
        "assert stand_in.name2codepoint is real.name2codepoint\n"
        "assert html.unescape('&lt;p&gt;') == '<p>'\n"
    )


def test_asyncpg_still_has_the_import_shape_the_deferral_relies_on() -> None:
    # The stand-in of configparser has no names: asyncpg must import the module itself, once, at
    # module level, and read its names only inside functions (the service file's parser).
    importers = [
        (here, where, names)
        for here, where, module, names in _imports_in_context("asyncpg")
        if module == lean.CONFIG_FILES
    ]
    assert importers == [("asyncpg.connect_utils", "module", ())], importers
    path = Path(importlib.util.find_spec("asyncpg.connect_utils").origin)  # type: ignore[arg-type, union-attr]
    tree = ast.parse(path.read_text())
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.Import | ast.ImportFrom):
            continue
        used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        assert lean.CONFIG_FILES not in used, ast.unparse(stmt)[:80]


def _module_level_uses(path: Path, name: str) -> list[str]:
    """The module-level statements of ``path`` (imports aside) that read ``name``."""

    def run_at_import(node: ast.AST) -> Iterator[ast.AST]:
        # What runs when the module is imported: not the bodies of functions and lambdas (a
        # function's decorators, defaults and annotations are counted).
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            outer = [*node.decorator_list, *args.defaults, *args.kw_defaults, node.returns]
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            outer += [a.annotation for a in every if a is not None]
            for part in outer:
                if part is not None:
                    yield from run_at_import(part)
            return
        if isinstance(node, ast.Lambda):
            return
        yield node
        for child in ast.iter_child_nodes(node):
            yield from run_at_import(child)

    tree = ast.parse(path.read_text())
    return [
        ast.unparse(stmt)[:80]
        for stmt in tree.body
        if not isinstance(stmt, ast.Import | ast.ImportFrom)
        and any(isinstance(n, ast.Name) and n.id == name for n in run_at_import(stmt))
    ]


def _functions_reading(path: Path, name: str) -> Iterator[ast.AST]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)
        ):
            yield node


def _source(module: str) -> Path:
    return Path(importlib.util.find_spec(module).origin)  # type: ignore[arg-type, union-attr]


def test_pyjwt_and_cryptography_still_have_the_import_shape_the_x509_deferral_relies_on() -> None:
    # The stand-in of cryptography.x509 has no names of its own. It stays a stand-in only while
    # (a) PyJWT imports the module itself (``from cryptography import x509``), once, at module
    # level, and reads ``x509.<name>`` only inside functions (the HMAC key check's
    # load_der_x509_certificate, never reached with ES256), and (b) none of cryptography's
    # modules outside x509 that a service loads imports it (pkcs7 and pkcs12 do; no service
    # loads them: the service-process test below).
    importers = [
        (here, where, names)
        for here, where, module, names in _imports_in_context("jwt")
        if module == lean.X509 or module.startswith(lean.X509 + ".")
    ]
    assert importers == [("jwt.algorithms", "module", ())], importers
    path = _source("jwt.algorithms")
    assert not _module_level_uses(path, "x509"), _module_level_uses(path, "x509")
    readers = {f.name for f in _functions_reading(path, "x509")}  # type: ignore[attr-defined]
    assert readers == {"_is_der_key"}, readers
    attributes = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "x509"
    }
    assert attributes == {"load_der_x509_certificate"}, attributes
    outside = {
        here
        for here, where, module, _ in _imports_in_context("cryptography")
        if where == "module"
        and (module == lean.X509 or module.startswith(lean.X509 + "."))
        and not here.startswith(lean.X509)
    }
    assert outside == {
        "cryptography.hazmat.primitives.serialization.pkcs7",
        "cryptography.hazmat.primitives.serialization.pkcs12",
    }, outside


def test_cryptography_still_has_the_import_shape_the_openssl_backend_deferral_relies_on() -> None:
    # The stand-in of cryptography's OpenSSL backend module has one name, ``backend`` (a proxy
    # that loads the module when one of its attributes is read). It stays a stand-in while every
    # import of the module takes that name only, inside a function, apart from its package's
    # ``__init__``, which re-exports it; and while ``ECDSA()`` reads the backend only for a
    # deterministic signature (behaviour: the next test). PyJWT takes ``default_backend`` (a
    # function returning that object) for ``hashes.Hash(..., backend=...)``, which ignores it.
    found = {
        (here, where, names)
        for package in ("cryptography", "jwt", "simple_salesforce", "requests", "urllib3")
        for here, where, module, names in _imports_in_context(package)
        if module == lean.OPENSSL_BACKEND
    }
    at_module = {(here, names) for here, where, names in found if where != "function"}
    assert at_module == {("cryptography.hazmat.backends.openssl", ("backend",))}, at_module
    assert {names for _, _, names in found} == {("backend",)}, found
    path = _source("cryptography.hazmat.primitives.asymmetric.ec")
    init = next(
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "ECDSA"
    )
    uses = [
        ast.unparse(node)
        for node in ast.walk(init)
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "backend"
    ]
    assert uses == ["backend.ecdsa_deterministic_supported"], uses


def test_es256_tokens_leave_the_openssl_backend_out_until_it_is_used() -> None:
    # A service's start (lean.prepare, then its imports): ES256 tokens signed and verified by
    # PyJWT (``ECDSA()`` with the backend a stand-in) and an at_hash-style digest with
    # ``default_backend()`` leave the module out; a deterministic signature and any attribute
    # of the backend load the real module, and work.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "import services.identity.server, jwt\n"
        "def deferred():\n"
        "    return isinstance(sys.modules[lean.OPENSSL_BACKEND].__spec__, lean._Spec)\n"
        "from cryptography.hazmat.backends import default_backend\n"
        "from cryptography.hazmat.primitives import hashes\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "key = ec.generate_private_key(ec.SECP256R1())\n"
        "token = jwt.encode({'sub': 'u1'}, key, algorithm='ES256')\n"
        "assert jwt.decode(token, key.public_key(), algorithms=['ES256']) == {'sub': 'u1'}\n"
        "digest = hashes.Hash(hashes.SHA256(), backend=default_backend())\n"
        "digest.update(b'x')\n"
        "assert len(digest.finalize()) == 32\n"
        "assert deferred(), 'the backend was loaded'\n"
        "signer = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)\n"
        "assert not deferred()\n"
        "one, two = key.sign(b'm', signer), key.sign(b'm', signer)\n"
        "assert one == two, 'RFC 6979 signatures are deterministic'\n"
        "assert 'OpenSSL' in default_backend().openssl_version_text()\n"
    )


def test_protobuf_still_has_the_import_shape_the_python_message_deferral_relies_on() -> None:
    # The stand-in of protobuf's pure-Python message implementation has no names of its own.
    # Under the upb implementation (the one installed) it stays a stand-in only while the modules
    # that import it at module level, descriptor_pool and builder, read it only inside functions
    # (descriptor_pool: a Python-implementation pool's extensions), and message_factory reads it
    # only when the implementation is the Python one.
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb"
    importers = {
        f"google.{here}"  # named from the folder above google/protobuf
        for here, where, module, _ in _imports_in_context("google.protobuf")
        if module == lean.PROTOBUF_PYTHON_MESSAGE and "test" not in here
    }
    assert importers == {
        "google.protobuf.descriptor_pool",
        "google.protobuf.internal.builder",
        "google.protobuf.message_factory",
    }, importers
    for module in ("google.protobuf.descriptor_pool", "google.protobuf.internal.builder"):
        assert not _module_level_uses(_source(module), "python_message"), module
    tree = ast.parse(_source("google.protobuf.message_factory").read_text())
    branch = next(
        stmt
        for stmt in tree.body
        if isinstance(stmt, ast.If) and "python_message" in ast.unparse(stmt.body[0])
    )
    assert ast.unparse(branch.test) == "api_implementation.Type() == 'python'"


def test_simple_salesforce_still_has_the_import_shape_the_xml_dom_deferral_relies_on() -> None:
    # The stand-in of xml.dom.minidom has no names of its own: simple-salesforce must import it
    # once, as ``import xml.dom.minidom`` at module level (util), and read it only inside
    # functions (the SOAP login's answer; the portal logs in with OAuth client credentials).
    importers = [
        (here, where, names)
        for here, where, module, names in _imports_in_context("simple_salesforce")
        if module == lean.XML_DOM
    ]
    assert importers == [("simple_salesforce.util", "module", ())], importers
    path = _source("simple_salesforce.util")
    assert not _module_level_uses(path, "xml")
    readers = {f.name for f in _functions_reading(path, "xml")}  # type: ignore[attr-defined]
    assert readers == {"getUniqueElementValueFromXmlString"}, readers


def test_the_x509_protobuf_and_xml_deferrals_work_when_used() -> None:
    # A service's start (lean.prepare, then identity's imports and the Salesforce client's): an
    # ES256 token signed and verified, a message serialized, parsed and printed leave the three
    # stand-ins as they are; a submodule of cryptography.x509 imports by its own name while the
    # package is a stand-in; the HMAC key check (load_der_x509_certificate), a certificate built
    # with the real package, simple-salesforce's SOAP answer parser and the Python message
    # implementation load the real modules and work.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "import services.identity.server, simple_salesforce, jwt\n"
        "def deferred(name):\n"
        "    return isinstance(sys.modules[name].__spec__, lean._Spec)\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "from cryptography.hazmat.primitives import serialization\n"
        "key = ec.generate_private_key(ec.SECP256R1())\n"
        "token = jwt.encode({'sub': 'u1'}, key, algorithm='ES256')\n"
        "assert jwt.decode(token, key.public_key(), algorithms=['ES256']) == {'sub': 'u1'}\n"
        "from portal.identity.v1 import identity_pb2\n"
        "from google.protobuf.timestamp_pb2 import Timestamp\n"
        "stamp = Timestamp(seconds=1700000000)\n"
        "assert Timestamp.FromString(stamp.SerializeToString()) == stamp\n"
        "assert str(stamp) == 'seconds: 1700000000\\n'\n"
        "assert stamp.ToJsonString() == '2023-11-14T22:13:20Z'\n"
        "assert all(map(deferred, (lean.X509, lean.PROTOBUF_PYTHON_MESSAGE, lean.XML_DOM)))\n"
        "from cryptography.x509.oid import NameOID\n"
        "assert deferred(lean.X509) and NameOID.COMMON_NAME.dotted_string == '2.5.4.3'\n"
        "der = key.public_key().public_bytes(serialization.Encoding.DER,\n"
        "                                    serialization.PublicFormat.SubjectPublicKeyInfo)\n"
        "try:\n"
        "    jwt.encode({'sub': 'u1'}, der, algorithm='HS256')\n"
        "    raise SystemExit('an asymmetric key taken as an HMAC secret')\n"
        "except jwt.InvalidKeyError:\n"
        "    pass\n"
        "from cryptography import x509\n"
        "name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'portal')])\n"
        "assert not deferred(lean.X509) and name.rfc4514_string() == 'CN=portal'\n"
        "assert sys.modules['cryptography.x509'].oid is sys.modules['cryptography.x509.oid']\n"
        "from simple_salesforce.util import getUniqueElementValueFromXmlString as value\n"
        "assert deferred(lean.XML_DOM)\n"
        "assert value('<r><sessionId>s1</sessionId></r>', 'sessionId') == 's1'\n"
        "assert not deferred(lean.XML_DOM)\n"
        "from google.protobuf.internal import python_message\n"
        "assert isinstance(python_message.GeneratedProtocolMessageType, type)\n"
        "assert not deferred(lean.PROTOBUF_PYTHON_MESSAGE)\n"
    )


def test_the_python_protobuf_implementation_loads_the_deferred_message_module() -> None:
    # With PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python the pure-Python messages are in use:
    # message_factory's first message class loads the real module through the stand-in.
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    code = (
        "import sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "from google.protobuf.timestamp_pb2 import Timestamp\n"
        "from portal.billing.v1 import billing_pb2\n"
        "stamp = Timestamp(seconds=5)\n"
        "assert Timestamp.FromString(stamp.SerializeToString()).seconds == 5\n"
        "real = sys.modules[lean.PROTOBUF_PYTHON_MESSAGE]\n"
        "assert not isinstance(real.__spec__, lean._Spec)\n"
    )
    run_python(code, env=env)


def test_cryptography_and_pyjwt_still_have_the_import_shape_the_ssh_deferral_relies_on() -> None:
    # The stand-in of cryptography's OpenSSH module has a function that loads it for each of its
    # functions and a proxy for each of its classes and type aliases that the serialization
    # package re-exports; nothing else of cryptography imports it (its Rust code loads it by name
    # to write an OpenSSH key), and PyJWT takes only load_ssh_public_key, which it calls inside
    # functions, never at import.
    importers = {
        (here, where, frozenset(names))
        for here, where, module, names in _imports_in_context("cryptography")
        if module == lean.SSH_KEYS and here != lean.SSH_KEYS
    }
    serialization = lean.SSH_KEYS.rpartition(".")[0]
    assert importers == {
        (serialization, "module", frozenset([*lean.SSH_KEYS_FUNCTIONS, *lean.SSH_KEYS_TYPES]))
    }, importers
    taken = {
        (here, where, names)
        for here, where, module, names in _imports_in_context("jwt")
        if module in (lean.SSH_KEYS, serialization) and names
    }
    assert taken == {
        (
            "jwt.algorithms",
            "module",
            (
                "Encoding",
                "NoEncryption",
                "PrivateFormat",
                "PublicFormat",
                "load_der_public_key",
                "load_pem_private_key",
                "load_pem_public_key",
                "load_ssh_public_key",
            ),
        )
    }, taken
    assert not _module_level_uses(_source("jwt.algorithms"), "load_ssh_public_key")
    ssh = ast.parse(_source(lean.SSH_KEYS).read_text())
    defined = {
        node.name: "function" if isinstance(node, ast.FunctionDef) else "class"
        for node in ssh.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    aliases = {
        target.id
        for node in ssh.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and ast.unparse(node.value).startswith("typing.Union")
    }
    assert all(defined[name] == "function" for name in lean.SSH_KEYS_FUNCTIONS)
    assert set(lean.SSH_KEYS_TYPES) == aliases | {
        name for name in lean.SSH_KEYS_TYPES if defined.get(name) == "class"
    }


def test_ssh_keys_work_with_the_openssh_module_deferred() -> None:
    # A service's start: the OpenSSH module is a stand-in after an ES256 token's signing and
    # check; PyJWT verifies with an OpenSSH public key through the function stand-in, a key
    # written as OpenSSH (cryptography's Rust code loads the module by name), the classes'
    # proxies answer isinstance, then the real module's.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "import services.billing.server, jwt\n"
        "def deferred():\n"
        "    return isinstance(sys.modules[lean.SSH_KEYS].__spec__, lean._Spec)\n"
        "from cryptography.hazmat.primitives import serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "key = ec.generate_private_key(ec.SECP256R1())\n"
        "token = jwt.encode({'sub': 'u1'}, key, algorithm='ES256')\n"
        "assert jwt.decode(token, key.public_key(), algorithms=['ES256'])['sub'] == 'u1'\n"
        "assert deferred() and not isinstance(key, serialization.SSHCertificate)\n"
        "openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH,\n"
        "                                        serialization.PublicFormat.OpenSSH)\n"
        "assert openssh.startswith(b'ecdsa-sha2-nistp256 ') and not deferred()\n"
        "assert jwt.decode(token, openssh, algorithms=['ES256'])['sub'] == 'u1'\n"
        "loaded = serialization.load_ssh_public_key(openssh)\n"
        "assert loaded.public_numbers() == key.public_key().public_numbers()\n"
        "assert serialization.SSHCertificateType.USER.value == 1\n"
    )


def test_pyjwt_loads_the_deferred_openssh_module_for_an_ssh_key() -> None:
    # The function stand-in itself: PyJWT's first OpenSSH key loads the real module.
    run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "import jwt\n"
        "from cryptography.hazmat.primitives.asymmetric import ed25519\n"
        "from cryptography.hazmat.primitives import serialization\n"
        "key = ed25519.Ed25519PrivateKey.generate()\n"
        "token = jwt.encode({'sub': 'u2'}, key, algorithm='EdDSA')\n"
        "assert isinstance(sys.modules[lean.SSH_KEYS].__spec__, lean._Spec)\n"
        "raw = key.public_key().public_bytes(serialization.Encoding.Raw,\n"
        "                                    serialization.PublicFormat.Raw)\n"
        "import base64, struct\n"
        "def field(b):\n"
        "    return struct.pack('>I', len(b)) + b\n"
        "blob = field(b'ssh-ed25519') + field(raw)\n"
        "openssh = b'ssh-ed25519 ' + base64.b64encode(blob)\n"
        "assert jwt.decode(token, openssh, algorithms=['EdDSA'])['sub'] == 'u2'\n"
        "assert not isinstance(sys.modules[lean.SSH_KEYS].__spec__, lean._Spec)\n"
    )


def test_fastavro_still_has_the_import_shape_the_json_deferral_relies_on() -> None:
    # The stand-ins of fastavro's JSON reader and writer have one function each: fastavro's
    # ``read`` and ``write`` (and the package) import the modules and read only json_reader and
    # json_writer from them at import; no other fastavro module imports them, and the compiled
    # reader and writer (what the change events use) are installed, so the pure-Python ones that
    # the JSON modules import stay out with them.
    takes = {lean.AVRO_JSON_READER: "json_reader", lean.AVRO_JSON_WRITER: "json_writer"}
    importers = {
        (here, module) for here, _, module, _ in _imports_in_context("fastavro") if module in takes
    }
    assert importers == {
        ("fastavro.read", lean.AVRO_JSON_READER),
        ("fastavro.write", lean.AVRO_JSON_WRITER),
    }, importers
    for here in ("fastavro", "fastavro.read", "fastavro.write"):
        tree = ast.parse(_source(here).read_text())
        read = {
            (ast.unparse(node.value), node.attr)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and ast.unparse(node.value).rpartition(".")[2] in ("json_read", "json_write")
        }
        allowed = {(m.rpartition(".")[2], n) for m, n in takes.items()}
        allowed |= {(m, n) for m, n in takes.items()}
        assert read <= allowed and read, (here, read)
    pure = {
        here
        for here, _, module, _ in _imports_in_context("fastavro")
        if module in ("fastavro._read_py", "fastavro._write_py") and here.startswith("fastavro.")
    }
    assert pure == {*takes, "fastavro.read", "fastavro.write"}, pure
    assert importlib.util.find_spec("fastavro._read").origin.endswith(".so")  # type: ignore[union-attr]
    assert importlib.util.find_spec("fastavro._write").origin.endswith(".so")  # type: ignore[union-attr]


def test_change_events_decode_with_the_json_modules_deferred() -> None:
    # commerce's start and its first change event (services.common.clients.cdc's schema and
    # decode, binary Avro) leave fastavro's JSON modules and the pure-Python reader out; Avro JSON
    # written and read afterwards loads them and round-trips.
    run_python(
        "import io, json, sys\n"
        "from services.common import lean\n"
        "lean.prepare()\n"
        "import services.commerce.server\n"
        "from services.common.clients.cdc import EventSchema\n"
        "header = [{'name': n, 'type': t} for n, t in [('entityName', 'string'),\n"
        "    ('changeType', 'string'), ('recordIds', {'type': 'array', 'items': 'string'}),\n"
        "    ('transactionKey', 'string'), ('sequenceNumber', 'int'),\n"
        "    ('commitTimestamp', 'long')]]\n"
        "raw = {'type': 'record', 'name': 'E', 'fields': [\n"
        "    {'name': 'ChangeEventHeader',\n"
        "     'type': {'type': 'record', 'name': 'H', 'fields': header}},\n"
        "    {'name': 'Status', 'type': ['null', 'string'], 'default': None}]}\n"
        "schema = EventSchema('s1', json.dumps(raw))\n"
        "record = {'ChangeEventHeader': {'entityName': 'Order', 'changeType': 'UPDATE',\n"
        "    'recordIds': ['801x'], 'transactionKey': 't1', 'sequenceNumber': 1,\n"
        "    'commitTimestamp': 1700000000000}, 'Status': 'Activated'}\n"
        "import fastavro\n"
        "buffer = io.BytesIO()\n"
        "fastavro.schemaless_writer(buffer, schema.parsed, record)\n"
        "event = schema.decode(buffer.getvalue(), b'r1', 'e1', '/data/OrderChangeEvent')\n"
        "assert event.entity == 'Order' and event.fields == {'Status': 'Activated'}, event\n"
        "for name in (lean.AVRO_JSON_READER, lean.AVRO_JSON_WRITER):\n"
        "    assert isinstance(sys.modules[name].__spec__, lean._Spec), name\n"
        "assert not {'fastavro._read_py', 'fastavro._write_py'} & set(sys.modules)\n"
        "out = io.StringIO()\n"
        "fastavro.json_writer(out, schema.parsed, [record])\n"
        "back = list(fastavro.json_reader(io.StringIO(out.getvalue()), schema.parsed))\n"
        "assert back == [record], (out.getvalue(), back)\n"
        "assert 'fastavro._read_py' in sys.modules and 'fastavro._write_py' in sys.modules\n"
    )
