"""services/common/lean.py: what keeps a service process small, and the optimization level every
way of starting a service uses."""

from __future__ import annotations

import ast
import asyncio
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from services.common import lean
from tools.stack import Ports, StackConfig

ROOT = Path(__file__).resolve().parents[2]


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
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


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
    done = subprocess.run(
        [sys.executable, "-OO", "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr


def test_a_service_imports_under_oo() -> None:
    # Nothing a service imports needs its docstrings or asserts at import time.
    code = "import services.identity.server, services.billing.server, " \
           "services.commerce.server, services.support.server, simple_salesforce"  # fmt: skip
    done = subprocess.run([sys.executable, "-OO", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def _run_python(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_salesforce_client_leaves_the_metadata_and_bulk_apis_out_until_used() -> None:
    # What a service process does (services.common.clients first, then simple-salesforce at the
    # first call): zeep, lxml and more_itertools stay out; sf.mdapi and sf.bulk2 still build the
    # real clients (the Metadata API's from the WSDL shipped with simple-salesforce: no network).
    _run_python(
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
    _run_python(
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
    _run_python(
        "import configparser, html.entities, pydantic_settings, redis, simple_salesforce, sys\n"
        "from services.common import lean\n"
        "assert lean.defer_unused_imports() == [], 'all are already imported'\n"
        "assert 'zeep' in sys.modules and 'charset_normalizer.api' in sys.modules\n"
        "assert sys.modules['redis.cluster'].__spec__.origin.endswith('cluster.py')\n"
    )


def test_settings_load_from_env_dotenv_and_secrets_with_the_command_line_source_deferred(
    tmp_path: Path,
) -> None:
    # A service's settings import (services.common.settings registers the deferral): the
    # command-line source stays out while the environment, a .env file and a secrets directory
    # are read as always.
    (tmp_path / ".env").write_text("DEMO_FROM_DOTENV=dotenv\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "demo_from_secret").write_text("secret")
    _run_python(
        "import os, sys\n"
        "import services.common.settings\n"
        "from pydantic import SecretStr\n"
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "os.environ['DEMO_FROM_ENV'] = 'env'\n"
        "class Demo(BaseSettings):\n"
        "    model_config = SettingsConfigDict(env_prefix='DEMO_', env_file='.env',\n"
        "                                      secrets_dir='secrets')\n"
        "    from_env: str\n"
        "    from_dotenv: str\n"
        "    from_secret: SecretStr\n"
        "demo = Demo()\n"
        "assert (demo.from_env, demo.from_dotenv) == ('env', 'dotenv'), demo\n"
        "assert demo.from_secret.get_secret_value() == 'secret'\n"
        "cli = sys.modules['pydantic_settings.sources.providers.cli']\n"
        "assert cli.__spec__.origin is None, 'the command-line source was loaded'\n"
        "assert 'shlex' not in sys.modules\n"
    )


def test_the_command_line_source_works_when_used() -> None:
    # The deferred names load the real module: the source (subscripted and called by
    # pydantic-settings itself), the annotations, a group to subclass, isinstance after.
    _run_python(
        "import sys\n"
        "import services.common.settings\n"
        "from pydantic import BaseModel\n"
        "from pydantic_settings import (BaseSettings, CliApp, CliMutuallyExclusiveGroup,\n"
        "    CliPositionalArg, CliSettingsSource, SettingsConfigDict)\n"
        "import pydantic_settings.sources as sources\n"
        "plain = CliSettingsSource\n"
        "assert not isinstance(object(), sources.CliSettingsSource)\n"
        "class Group(CliMutuallyExclusiveGroup):\n"
        "    a: int | None = None\n"
        "    b: int | None = None\n"
        "class Args(BaseSettings):\n"
        "    model_config = SettingsConfigDict(cli_parse_args=['7', '--group.a', '3'])\n"
        "    name: CliPositionalArg[int]\n"
        "    group: Group = Group()\n"
        "args = Args()\n"
        "assert (args.name, args.group.a) == (7, 3), args\n"
        "real = sys.modules['pydantic_settings.sources.providers.cli']\n"
        "assert real.__spec__.origin.endswith('cli.py')\n"
        "source = CliSettingsSource(Args, cli_parse_args=['8'])\n"
        "assert type(source) is real.CliSettingsSource and isinstance(source, plain)\n"
        "assert issubclass(real.CliSettingsSource, sources.CliSettingsSource)\n"
        "assert CliApp.run(Args, cli_args=['9']).name == 9\n"
    )


def test_pydantic_settings_still_has_the_import_shape_the_deferral_relies_on() -> None:
    # The stand-in of the command-line source has a proxy for each name the package takes from
    # it (and CLI_SUPPRESS, argparse's constant). It keeps the module out only while the package
    # takes no other name from it, at import uses those names only inside functions (calls,
    # subscripts, isinstance), and subclasses none of them: an upgrade that changes this fails
    # here; check the stand-in against the new version.
    taken: dict[str, set[str]] = {}
    package = "pydantic_settings"
    folder = Path(importlib.util.find_spec(package).origin).parent  # type: ignore[arg-type, union-attr]
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        here = ".".join(parts if path.stem != "__init__" else parts[:-1])
        own = here if path.stem == "__init__" else here.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = own
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = f"{base}.{node.module or ''}".rstrip(".") if node.level else node.module
                if module == lean.SETTINGS_CLI:
                    taken.setdefault(here, set()).update(a.name for a in node.names)
                if module == lean.SETTINGS_CLI.rpartition(".")[0] and any(
                    a.name == "cli" for a in node.names
                ):
                    taken.setdefault(here, set()).add("<module>")
        if here == lean.SETTINGS_CLI:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                assert not {getattr(b, "id", None) for b in node.bases} & set(
                    lean.SETTINGS_CLI_NAMES
                ), (here, node.name)
        for stmt in tree.body:  # module level: no use of a deferred name outside a def
            if isinstance(stmt, ast.ImportFrom | ast.Import | ast.FunctionDef):
                continue
            used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            if isinstance(stmt, ast.ClassDef):
                used = {
                    n.id
                    for item in stmt.body
                    if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    for n in ast.walk(item)
                    if isinstance(n, ast.Name) and not isinstance(item, ast.AnnAssign)
                }
            assert not used & set(lean.SETTINGS_CLI_NAMES), (here, used)
    names = set(lean.SETTINGS_CLI_NAMES) | {"CLI_SUPPRESS"}
    assert set(taken) == {"pydantic_settings.sources", "pydantic_settings.sources.providers"}, taken
    for module, got in taken.items():
        assert got <= names, (module, got - names)


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
    _run_python(
        "import sys\n"
        "from services.common import lean\n"
        "lean.skip_optional_imports()\n"
        "lean.defer_unused_imports()\n"
        f"import services.{service}.server\n"
        f"for name in {sorted({*REDIS_DEFERRED, lean.HTML_ENTITIES})!r}:\n"
        "    assert isinstance(sys.modules[name].__spec__, lean._Spec), name\n"
        "config_files = sys.modules.get(lean.CONFIG_FILES)  # with asyncpg only\n"
        "assert config_files is None or isinstance(config_files.__spec__, lean._Spec)\n"
        f"assert (config_files is None) == ({service!r} in ('billing', 'support'))\n"
        "from services.common.cache import cache, client\n"
        "assert isinstance(cache.RedisCluster, lean._Proxy)\n"
        "assert isinstance(client.RedisCluster, lean._Proxy)\n"
    )


def test_a_proxy_in_a_union_is_not_loaded() -> None:
    # ``Redis | RedisCluster`` (services/common/cache/client.py's RedisClient) at import: a
    # typing.Union of the class and the proxy, answering isinstance without the real module.
    _run_python(
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


def test_every_service_defers_before_its_imports() -> None:
    # Each ``python -m services.<svc>`` registers the deferrals first thing (before the service's
    # imports, which reach html.entities through prometheus_client's http.server).
    for service in ("identity", "billing", "commerce", "support"):
        tree = ast.parse((ROOT / "services" / service / "__main__.py").read_text())
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        calls = [ast.unparse(stmt.value) for stmt in main.body[:3] if isinstance(stmt, ast.Expr)]
        assert calls == [
            "lean.skip_optional_imports()",
            "lean.limit_malloc_arenas()",
            "lean.defer_unused_imports()",
        ], (service, calls)
        assert isinstance(main.body[3], ast.ImportFrom), service


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
    _run_python(
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
