"""Rules of the layout, read from the source (no imports executed):

- ``services/`` and ``sandbox/`` never import each other: the sandboxes are written from the
  systems' public contracts, the services must work against the real systems.
- Only the cache library (``services/common/cache/``) builds Redis keys and channels: a service
  module never spells key text, and its Redis calls name keys only through ``cache.keys``. That is
  what keeps every key in the deployment's namespace (``CACHE_NAMESPACE``) with its hash tag.
- One shape for the services: their domain modules (``model``, ``validation``, ``queries``,
  ``mapping``, ``wire``) import no gRPC; their servicers are ``<Name>Servicer`` classes under
  ``@fill_unimplemented`` whose handlers take ``(request, context: grpc.aio.ServicerContext)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE_LIBRARY = ROOT / "services" / "common" / "cache"

# Text that only a Redis key of ours contains: a hash tag of a scope, a segment after a tag, the
# library's private segments, the namespace's default.
KEY_TEXT = re.compile(r"\{[a-z]:|:\{|\}:|_genall|:_gen:|:_lock|^portal:")
# redis-py methods whose first argument is a key or channel.
KEYED = {
    "get", "set", "setex", "psetex", "getdel", "getex", "delete", "unlink", "exists", "expire",
    "pexpire", "ttl", "pttl", "incr", "incrby", "decr", "mget", "mset", "hget", "hset", "hdel",
    "sadd", "srem", "zadd", "lpush", "rpush", "xadd", "publish", "subscribe", "unsubscribe",
    "psubscribe", "eval", "evalsha",
}  # fmt: skip
REDIS_IMPORTS = re.compile(r"^(redis(\.|$)|services\.common\.cache(\.client)?$)")
REDIS_NAMES = {"RedisClient", "redis_from_url", "Redis", "RedisCluster"}
# Methods other objects have too (a dict's ``get``, httpx's ``delete``): checked only on what a
# Redis client, pipeline or pub/sub object is called where it is used.
SHARED_NAMES = {"get", "delete", "exists"}
REDIS_RECEIVER = re.compile(r"redis|client|pubsub|pipe", re.IGNORECASE)


def modules(folder: str) -> Iterator[Path]:
    yield from sorted((ROOT / folder).rglob("*.py"))


def imported(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, [a.name for a in node.names]


def key_text(tree: ast.AST) -> list[str]:
    """String constants (f-string pieces included, docstrings not) that look like our keys."""
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and KEY_TEXT.search(node.value)
    ]


def uses_redis(tree: ast.AST) -> bool:
    return any(
        REDIS_IMPORTS.match(module) and (module.startswith("redis") or REDIS_NAMES & set(names))
        for module, names in imported(tree)
    )


def built_key_arguments(tree: ast.AST) -> list[str]:
    """Redis calls whose key argument is text made on the spot (a literal, an f-string, ``+``,
    ``%`` or ``.format``) instead of a value from ``cache.keys``."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in KEYED or not node.args:
            continue
        receiver = ast.unparse(node.func.value)
        if node.func.attr in SHARED_NAMES and not REDIS_RECEIVER.search(receiver):
            continue
        key = node.args[0]
        made_here = (
            isinstance(key, ast.Constant | ast.JoinedStr | ast.BinOp)
            or (isinstance(key, ast.Call) and isinstance(key.func, ast.Attribute)
                and key.func.attr == "format")
        )  # fmt: skip
        if made_here:
            found.append(f"line {node.lineno}: .{node.func.attr}({ast.unparse(key)})")
    return found


def key_parts(tree: ast.AST) -> list[str]:
    """Uses of the pieces a key is made of (a scope's segment, a namespace's scope prefix): only
    the library joins them."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "segment":
            found.append(f"line {node.lineno}: .segment")
        if isinstance(node, ast.Name | ast.alias) and "scope_prefix" in ast.unparse(node):
            found.append(f"line {getattr(node, 'lineno', 0)}: scope_prefix")
    return found


def key_building(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = key_text(tree) + key_parts(tree)
    if uses_redis(tree):
        problems += built_key_arguments(tree)
    return problems


def service_modules() -> list[Path]:
    return [p for p in modules("services") if CACHE_LIBRARY not in p.parents]


@pytest.mark.parametrize("path", service_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_service_module_builds_a_redis_key(path: Path) -> None:
    assert key_building(path.read_text()) == [], "build keys in services/common/cache/keys.py"


@pytest.mark.parametrize(
    "source",
    [
        'KEY = "portal:webhook:whmcs:{x}"',
        'def k(u): return f"{ns}:{{u:{u}}}:commerce:orders"',
        'from redis.asyncio import Redis\nasync def f(r, u): await r.publish(f"orders.{u}", "1")',
        "from services.common.cache import RedisClient\n"
        'async def f(c, e): await c.set("seen." + e, b"1", nx=True)',
        'import redis\nasync def f(self, e): await self._redis.delete("seen.{}".format(e))',
        'def channel(scope): return scope.segment + ":commerce:orders"',
        "from services.common.cache.keys import scope_prefix",
    ],
)
def test_the_key_check_finds_hand_built_keys(source: str) -> None:
    assert key_building(source)


def test_the_key_check_lets_library_keys_and_other_text_pass() -> None:
    source = (
        "from services.common.cache import RedisClient\n"
        "from services.common.cache.keys import webhook_event_key\n"
        "async def f(c: RedisClient, ns: str, e: str, row: dict) -> None:\n"
        '    await c.set(webhook_event_key(ns, "whmcs", e), b"1", nx=True)\n'
        '    print(row.get("status"), f"time: {e}", "a {b} c")\n'
    )
    assert key_building(source) == []


def crossing_imports(folder: str, forbidden: str) -> list[str]:
    found = []
    for path in modules(folder):
        for module, _ in imported(ast.parse(path.read_text())):
            if module == forbidden or module.startswith(forbidden + "."):
                found.append(f"{path.relative_to(ROOT)}: {module}")
    return found


def test_services_and_sandboxes_never_import_each_other() -> None:
    assert crossing_imports("services", "sandbox") == []
    assert crossing_imports("sandbox", "services") == []
    assert crossing_imports("tools", "nothing") == []  # the walk itself runs on any folder
    assert crossing_imports("tests/e2e", "tests") != []  # and finds an import when there is one


SERVICES = ("identity", "billing", "commerce", "support")


def test_the_common_library_imports_no_service() -> None:
    for name in SERVICES:
        assert crossing_imports("services/common", f"services.{name}") == []


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_imports_no_other_service(name: str) -> None:
    for other in SERVICES:
        if other != name:
            assert crossing_imports(f"services/{name}", f"services.{other}") == []


# Domain modules by role (docs/architecture.md, "the same shape in all four"): no gRPC in them.
DOMAIN_ROLES = ("model", "validation", "queries", "mapping", "wire")
CONTEXT = "grpc.aio.ServicerContext"


def grpc_imports(path: Path) -> list[str]:
    return [
        module
        for module, _ in imported(ast.parse(path.read_text()))
        if module == "grpc" or module.startswith("grpc.")
    ]


@pytest.mark.parametrize("name", SERVICES)
def test_a_services_domain_modules_import_no_grpc(name: str) -> None:
    found = [ROOT / "services" / name / f"{role}.py" for role in DOMAIN_ROLES]
    assert [(p.name, grpc_imports(p)) for p in found if p.exists() and grpc_imports(p)] == []
    assert grpc_imports(ROOT / "services" / name / "servicer.py") != []  # the check reads imports


def servicer_shape(tree: ast.Module) -> list[str]:
    """What breaks the servicer convention: a class serving a gRPC service not named
    ``<Name>Servicer`` or not under ``@fill_unimplemented``, an RPC handler whose parameters are
    not ``(self, request, context: grpc.aio.ServicerContext)``."""
    wrong = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        bases = [ast.unparse(b) for b in cls.bases]
        if not any(b.endswith("Servicer") for b in bases):
            continue
        decorators = [ast.unparse(d).split("(")[0] for d in cls.decorator_list]
        if not cls.name.endswith("Servicer") or "fill_unimplemented" not in decorators:
            wrong.append(cls.name)
        for fn in cls.body:
            if isinstance(fn, ast.AsyncFunctionDef) and fn.name[:1].isupper():
                params = [a.arg for a in fn.args.args]
                context = ast.unparse(fn.args.args[-1].annotation or ast.Constant(None))
                if params != ["self", "request", "context"] or context != CONTEXT:
                    wrong.append(f"{cls.name}.{fn.name}{tuple(params)}")
    return wrong


@pytest.mark.parametrize("name", SERVICES)
def test_a_services_servicers_follow_one_convention(name: str) -> None:
    assert servicer_shape(ast.parse((ROOT / "services" / name / "servicer.py").read_text())) == []


def test_the_servicer_check_finds_a_servicer_off_the_convention() -> None:
    source = (
        "class Orders(pb_grpc.OrderServiceServicer):\n    async def GetOrder(self, req, ctx): ...\n"
    )
    assert servicer_shape(ast.parse(source)) == ["Orders", "Orders.GetOrder('self', 'req', 'ctx')"]
