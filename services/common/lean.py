"""What keeps a service process small: :func:`prepare` is the first step of each
``services/<svc>/__main__.py``.

Measured on one service (``bench/memory_bench.py``, ``/proc/<pid>/smaps_rollup``): most of a
service's resident memory is anonymous, the Python objects of the ~1,000 modules it imports and
the C heap, not the shared libraries. Four things make that smaller without changing what the
service does:

- :func:`skip_optional_imports`: a few libraries import packages they only use for a developer's
  terminal when those are installed (structlog's console renderer imports ``rich`` and ``pygments``
  for pretty tracebacks; ``httpx`` imports ``click``, ``rich`` and ``pygments`` for its command
  line). They are installed here for the tests and tools, never used by a service, and cost ~5 MiB
  and ~0.3 s of CPU per process; marking them absent makes those libraries take their plain path
  (structlog formats tracebacks with the standard library).
- :func:`limit_malloc_arenas`: glibc gives every thread that allocates its own arena (up to 8 per
  core), each keeping its free memory; grpc's, the executors' and the asyncio resolver's threads
  would each hold one. One arena: the work of the worker threads (the Salesforce pool imports
  simple-salesforce and runs requests there) otherwise builds a second heap whose free pages the
  event loop's thread never reuses (identity and support after 400 GETs: 1.3 to 1.5 MiB more with
  two arenas than with one, 5 MiB before the next trim). The threads run Python one at a time
  under the GIL, and glibc's per-thread caches serve most small allocations without the arena's
  lock, so sharing it costs no measurable time.
  ``mallopt`` is the in-process form of ``MALLOC_ARENA_MAX``, so every way of starting a service
  (``make run``, compose, Kubernetes) gets it without an environment variable; it must run before
  the first thread starts.
- :func:`settle` after start-up and :func:`trim_periodically` while running: the import and the
  build leave free memory inside glibc's heap (temporaries freed below live objects), which glibc
  only returns from the top of the heap; a burst (1,000 streams opened and closed, a page of large
  answers) does the same. ``malloc_trim(0)`` hands every free page back (~10 MiB after start-up),
  in a few milliseconds. ``gc.freeze()`` moves the start-up objects out of the collector's
  generations, so later collections do not walk (and touch) them. Between two periodic trims a
  check every second trims as soon as the resident size has grown by ``TRIM_ON_GROWTH`` since the
  last one: a burst's free pages go back within about a second of it instead of up to an interval
  later (a trim takes 0.2 to 0.6 ms, 15 ms at most right after a burst; a quiet process is not
  trimmed more often than every interval).
- :func:`defer_unused_imports` (run by each service's ``__main__``, through :func:`prepare`, and
  registered again by the modules every import of the libraries concerned goes through first:
  ``services.common.clients``, ``.settings``, ``.cache``): modules that the libraries import but
  the portal never uses are imported on first use instead (:data:`DEFERRALS`); until then their
  import gives a stand-in module whose names load the real one, so nothing behaves differently when
  they are used. ``simple_salesforce.metadata``, the Metadata API (SOAP deploys and retrieves; the
  portal uses the REST API): ``simple_salesforce.api`` imports it for ``SfdcMetadataApi``, which
  only the lazy ``Salesforce.mdapi`` property calls, and it imports zeep and lxml (~75 modules, 5.4
  MiB). ``simple_salesforce.bulk2``, the Bulk API 2.0, likewise for ``SFBulk2Handler``
  (``sf.bulk2``), with ``more_itertools`` (1.7 MiB). ``charset_normalizer``: requests imports it for
  ``Response.apparent_encoding``, the guess of a body's encoding when the response names none
  (Salesforce's answers are JSON, which requests decodes as UTF-8 without guessing), and it is 3.1
  MiB (its frequency tables and a compiled module). Every process that has called Salesforce holds
  ~9.5 MiB less (the client's libraries import in 2.4 MiB instead of 12.0). redis-py's cluster
  client (``redis.cluster``, ``redis.asyncio.cluster``) and its keyspace notifications
  (``redis.keyspace_notifications`` and the ``asyncio`` one): ``redis`` and ``redis.asyncio``
  import them to re-export ``RedisCluster`` and the notification classes, for every client, and a
  service with a standalone ``REDIS_URL`` uses none of them (~1 MiB per service). Their names are
  proxies: ``RedisCluster.from_url`` (a ``redis+cluster://`` URL) loads the real client,
  ``isinstance(client, RedisCluster)`` is False until then, and ``Redis | RedisCluster`` gives a
  ``typing.Union`` of the class and the proxy without loading it; a client's
  ``keyspace_notifications()`` imports its module inside the call. Registered by
  ``services.common.cache`` before redis-py's import. ``html.entities`` (the HTML5 entity table,
  ~0.3 MiB): ``html`` takes its ``html5`` dict at import, for ``html.unescape`` of a named
  reference (``&eacute;``), and ``http.server`` imports ``html`` (prometheus-client's metrics
  endpoint) for ``html.escape``; a read-only :class:`_MappingProxy` stands in for the dict. Being
  the standard library's, it is registered by each service's ``__main__`` before its imports, with
  the others (the modules that register them stay, for a process that imports a service without
  its ``__main__``). ``configparser`` (~0.2 MiB), likewise: asyncpg imports it to read a
  ``pg_service.conf`` when a connection names a ``service``, which the services' ``DATABASE_URL``
  does not; asyncpg takes the module, so the stand-in has no names of its own (the first
  ``configparser.ConfigParser`` loads the real module). ``cryptography.x509`` (the X.509
  certificate classes, ~0.8 MiB): PyJWT's algorithms import the package (``from cryptography
  import x509``) for one call, ``load_der_x509_certificate`` in the HMAC algorithm's refusal of an
  asymmetric key as a secret; the portal's tokens are ES256, and none of cryptography's modules a
  service loads imports it. ``google.protobuf.internal.python_message``, protobuf's pure-Python
  message implementation with its text format, decoder and encoder (~0.7 MiB):
  ``descriptor_pool`` and ``internal.builder`` import it at module level and use it only for the
  Python implementation; the installed one is upb (with
  ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``, ``message_factory``'s first message class
  loads it). ``xml.dom.minidom`` (~0.3 MiB once the Salesforce client is imported):
  simple-salesforce's ``util`` imports it for the SOAP login's answer; the portal logs in with
  OAuth client credentials. The three are modules the libraries take whole, so their stand-ins
  have no names of their own. ``cryptography.hazmat.primitives.serialization.ssh``, OpenSSH keys
  and certificates (~0.25 MiB): the ``serialization`` package re-exports its functions and
  classes, and PyJWT calls ``load_ssh_public_key`` only for a key in OpenSSH form (the portal's
  keys are PEM and JWK); its functions are stand-ins that load it when called, its classes and
  type aliases proxies, and cryptography's Rust code loads it by name to write an OpenSSH key.
  cryptography's OpenSSL backend module (``cryptography.hazmat.backends.openssl.backend``, with
  the cffi bindings and the cipher modules it imports, ~0.5 MiB per service from its first token
  check): ``ECDSA()``, which every ES256 signature and check builds, imports it to ask whether
  OpenSSL signs deterministically, and asks only when a deterministic signature is wanted;
  the portal's keys are used through the Rust bindings, which need no Python backend. Its one
  name, ``backend``, is a proxy: reading any attribute of it (``default_backend()
  .openssl_version_text()``, a deterministic signature) loads the real module.
  fastavro's JSON encoding (``fastavro.json_read`` and ``fastavro.json_write`` with the
  pure-Python reader and writer and the JSON decoder and encoder they use, ~0.25 MiB in commerce
  after its first change event): ``fastavro.read`` and ``.write`` import them to re-export
  ``json_reader`` and ``json_writer``; the change events are binary Avro, read by the compiled
  ``schemaless_reader``. The stand-ins' two functions load the real modules when called.
  ``tests/unit/test_lean.py`` checks the import shape each stand-in relies on (which names the
  libraries take from them, and where), so an upgrade that changes it fails there. A deferred
  package's stand-in has the real package's ``__path__`` (found, not executed): a submodule
  imported by its own name (``from cryptography.x509.oid import NameOID``) loads from there, and
  the package itself still loads only when one of its own names is read.

The processes also run with ``PYTHONOPTIMIZE=2`` (``-OO``: no docstrings, no asserts; set where
they are started, ``tools/stack.py`` and the ``Dockerfile``): ~3 MiB less per service.
``PYTHONNODEBUGRANGES=1`` beside it: the code objects keep no column tables (Python drops them as
it loads the bytecode, an existing ``.pyc`` too; tracebacks keep their line numbers, not the
``^^^`` markers), ~0.5 MiB less per service.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Union

OPTIONAL_IMPORTS = ("rich", "pygments", "click")
METADATA_API = "simple_salesforce.metadata"
BULK2_API = "simple_salesforce.bulk2"
CHARSET_DETECTION = "charset_normalizer"
HTML_ENTITIES = "html.entities"
CONFIG_FILES = "configparser"
X509 = "cryptography.x509"
OPENSSL_BACKEND = "cryptography.hazmat.backends.openssl.backend"
PROTOBUF_PYTHON_MESSAGE = "google.protobuf.internal.python_message"
XML_DOM = "xml.dom.minidom"
AVRO_JSON_READER = "fastavro.json_read"
AVRO_JSON_WRITER = "fastavro.json_write"
SSH_KEYS = "cryptography.hazmat.primitives.serialization.ssh"
SSH_KEYS_FUNCTIONS = (
    "load_ssh_private_key",
    "load_ssh_public_identity",
    "load_ssh_public_key",
    "ssh_key_fingerprint",
)
SSH_KEYS_TYPES = (
    "SSHCertPrivateKeyTypes",
    "SSHCertPublicKeyTypes",
    "SSHCertificate",
    "SSHCertificateBuilder",
    "SSHCertificateType",
    "SSHPrivateKeyTypes",
    "SSHPublicKeyTypes",
)
REDIS_CLUSTER = "redis.cluster"
REDIS_ASYNC_CLUSTER = "redis.asyncio.cluster"
REDIS_KEYSPACE = "redis.keyspace_notifications"
REDIS_ASYNC_KEYSPACE = "redis.asyncio.keyspace_notifications"
REDIS_KEYSPACE_NAMES = (
    "ChannelType",
    "ClusterKeyspaceNotifications",
    "EventType",
    "KeyeventChannel",
    "KeyNotification",
    "KeyspaceChannel",
    "KeyspaceNotifications",
    "KeyspaceNotificationsInterface",
    "KeyspaceWorkerThread",
    "SubkeyeventChannel",
    "SubkeyspaceChannel",
    "SubkeyspaceeventChannel",
    "SubkeyspaceitemChannel",
    "get_channel_type",
)
REDIS_ASYNC_KEYSPACE_NAMES = (
    "AsyncClusterKeyspaceNotifications",
    "AsyncKeyspaceNotifications",
    "AsyncKeyspaceNotificationsInterface",
)
M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
ARENAS = 1
TRIM_ON_GROWTH = 1 << 20  # bytes of resident growth that trigger a trim before the interval
CHECK_S = 1.0


def _libc() -> ctypes.CDLL | None:
    """The symbols the process has loaded, libc's among them (``dlopen(NULL)``), instead of
    ``ctypes.util.find_library("c")``, which runs ``ldconfig -p`` in a child process at every
    start to find a library the process already has."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_LIBC = _libc()


def prepare() -> list[str]:
    """A service process's first step, in its ``__main__`` before the service's imports and
    before any thread starts: :func:`skip_optional_imports`, :func:`limit_malloc_arenas` and
    :func:`defer_unused_imports` (the deferred modules' names)."""
    skip_optional_imports()
    limit_malloc_arenas()
    return defer_unused_imports()


def skip_optional_imports() -> None:
    """Make ``import rich`` (and the others) fail in this process: run before anything imports
    structlog or httpx. A package already imported stays as it is."""
    for name in OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas; False where that is not glibc's malloc."""
    try:
        return bool(_LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, arenas))
    except AttributeError:
        return False


def trim() -> bool:
    """Return glibc's free heap pages to the system; False where there is no ``malloc_trim``."""
    try:
        return bool(_LIBC is not None and _LIBC.malloc_trim(0))
    except AttributeError:
        return False


def settle() -> None:
    """Once the service is built and serving: collect, freeze what is left, trim."""
    gc.collect()
    gc.freeze()
    trim()


def resident_bytes() -> int:
    """This process's resident set size (``/proc/self/statm``); 0 where there is none."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


async def trim_periodically(
    interval_s: float,
    *,
    check_s: float = CHECK_S,
    growth: int = TRIM_ON_GROWTH,
    release: Callable[[], Awaitable[int]] | None = None,
) -> None:
    """:func:`trim` every ``interval_s`` seconds until cancelled (0 or less: never), and sooner,
    at the first check (every ``check_s``) that finds the resident size ``growth`` bytes above
    what it was after the last trim. ``release``, when given, runs at every check first (it lets
    go of what a burst left, e.g. idle Redis connections, and says how many); when it released
    anything, that check trims too, so the memory goes back at once."""
    if interval_s <= 0:
        return
    check_s = min(check_s, interval_s)
    baseline, waited = resident_bytes(), 0.0
    while True:
        await asyncio.sleep(check_s)
        waited += check_s
        released = await _release(release)
        if released or waited >= interval_s or resident_bytes() - baseline >= growth:
            trim()
            baseline, waited = resident_bytes(), 0.0


async def _release(release: Callable[[], Awaitable[int]] | None) -> int:
    if release is None:
        return 0
    try:
        return await release()
    except Exception as exc:  # maintenance must never stop the trims
        import structlog  # not at the top: skip_optional_imports runs before structlog's import

        structlog.get_logger("lean").warning("memory_release_failed", error=type(exc).__name__)
        return 0


class _Spec(importlib.machinery.ModuleSpec):
    """A stand-in module's spec (tells it from the real module's)."""


@dataclass(frozen=True)
class Deferral:
    """A module imported on first use: until then its import gives a stand-in module with
    ``callables`` (each loads the real module when called and calls the real one), ``proxies``
    (each a :class:`_Proxy` of the real object), ``mappings`` (each a :class:`_MappingProxy` of a
    real dict) and ``values()``; any other name of it (dunders aside) loads the real module."""

    name: str
    callables: tuple[str, ...] = ()
    values: Callable[[], dict[str, Any]] = dict
    proxies: tuple[str, ...] = ()
    mappings: tuple[str, ...] = ()


def _charset_normalizer_version() -> dict[str, Any]:
    import importlib.metadata

    return {"__version__": importlib.metadata.version("charset-normalizer")}


DEFERRALS = (
    Deferral(METADATA_API, callables=("SfdcMetadataApi",)),
    Deferral(BULK2_API, callables=("SFBulk2Handler",)),
    Deferral(CHARSET_DETECTION, values=_charset_normalizer_version),
    Deferral(HTML_ENTITIES, mappings=("html5",)),
    Deferral(CONFIG_FILES),
    Deferral(REDIS_CLUSTER, proxies=("RedisCluster",)),
    Deferral(REDIS_ASYNC_CLUSTER, proxies=("RedisCluster",)),
    Deferral(REDIS_KEYSPACE, proxies=REDIS_KEYSPACE_NAMES),
    Deferral(REDIS_ASYNC_KEYSPACE, proxies=REDIS_ASYNC_KEYSPACE_NAMES),
    Deferral(X509),
    Deferral(OPENSSL_BACKEND, proxies=("backend",)),
    Deferral(PROTOBUF_PYTHON_MESSAGE),
    Deferral(XML_DOM),
    Deferral(SSH_KEYS, callables=SSH_KEYS_FUNCTIONS, proxies=SSH_KEYS_TYPES),
    Deferral(AVRO_JSON_READER, callables=("json_reader",)),
    Deferral(AVRO_JSON_WRITER, callables=("json_writer",)),
)
_LOCK = threading.RLock()


class _Deferred(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers the first import of one :class:`Deferral`'s module with its stand-in, then steps
    aside (the real module's import, on first use, goes through the ordinary finders).

    It steps aside by answering nothing from then on, and stays in ``sys.meta_path``: the import
    system iterates that very list, by index, in every thread, and takes its lock only around
    each finder's call. Removing an entry while another thread is between two finders shifts
    the rest of the list under it, so that thread skips one, ``PathFinder`` say, and an import
    of a module that exists fails with ``ModuleNotFoundError``. Salesforce's libraries load in the
    client's worker thread, which is what answers these deferrals in a service, while the event
    loop's thread imports what it needs (seen as a failed shutdown of a restarted identity).
    """

    def __init__(self, deferral: Deferral) -> None:
        self.deferral = deferral
        self.answered = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        # Called with the import system's lock held (importlib._bootstrap._find_spec), so
        # two threads never both see ``answered`` unset.
        if fullname != self.deferral.name or self.answered:
            return None
        self.answered = True
        # A package's stand-in has the real package's ``__path__``: a submodule imported by its
        # own name (``cryptography.x509.oid``) loads from there as usual, the package stays out.
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        locations = None if real is None else real.submodule_search_locations
        spec = _Spec(fullname, self, is_package=locations is not None)
        if locations is not None:
            spec.submodule_search_locations = list(locations)
        return spec

    def exec_module(self, module: ModuleType) -> None:
        name = self.deferral.name
        for attribute in self.deferral.callables:
            setattr(module, attribute, _stand_in(name, attribute))
        for attribute in self.deferral.proxies:
            setattr(module, attribute, _Proxy(name, attribute))
        for attribute in self.deferral.mappings:
            setattr(module, attribute, _MappingProxy(name, attribute))
        vars(module).update(self.deferral.values())
        module.__getattr__ = functools.partial(_real_attribute, name)  # type: ignore[method-assign]


def _stand_in(module: str, attribute: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(real_module(module), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    return call


class _StandInName:
    """A name of a deferred module that loads the module when it is used (``_real``)."""

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name

    def _real(self) -> Any:
        return getattr(real_module(self._module), self._name)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class _Proxy(_StandInName):
    """A stand-in for a class or type alias of a deferred module: calling it, subscripting it
    (``RedisCluster[Any]``), subclassing it, or reading any other name of it loads the real
    module and uses the real object. ``isinstance`` and ``issubclass`` against it are False
    while the real module is not loaded (no object can come from a class that was never
    created) and the real answer after. Used bare as an annotation it
    is not the real class: a library that inspects annotations (``typing.get_type_hints``) sees
    the proxy."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(module, name)
        self.__name__ = self.__qualname__ = name
        self.__module__ = module

    def _loaded(self) -> Any:
        current = sys.modules.get(self._module)
        if current is None or isinstance(getattr(current, "__spec__", None), _Spec):
            return None
        return getattr(current, self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)

    def __getitem__(self, item: Any) -> Any:
        return self._real()[item]

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[Any, ...]:
        return (self._real(),)

    def __instancecheck__(self, instance: Any) -> bool:
        real = self._loaded()
        return real is not None and isinstance(instance, real)

    def __subclasscheck__(self, subclass: Any) -> bool:
        real = self._loaded()
        return real is not None and issubclass(subclass, real)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __or__(self, other: Any) -> Any:
        return Union[self, other]  # noqa: UP007 (``X | Y`` needs types; this is a stand-in)

    def __ror__(self, other: Any) -> Any:
        return Union[other, self]  # noqa: UP007


class _MappingProxy(_StandInName, Mapping[Any, Any]):
    """A stand-in for a dict of a deferred module (``html.entities.html5``, which ``html`` takes
    at import for ``html.unescape``): reading it (a key, ``in``, its length, iterating it) loads
    the real module and reads the real dict. Read-only, as its users treat it."""

    def __getitem__(self, key: Any) -> Any:
        return self._real()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._real()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._real())

    def __len__(self) -> int:
        return len(self._real())


def _real_attribute(module: str, name: str) -> Any:
    """A name the stand-in lacks: from the real module (dunders, which the import system looks
    up on any module, e.g. ``__path__``, are not forwarded)."""
    if name.startswith("__"):
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return getattr(real_module(module), name)


def real_module(name: str) -> ModuleType:
    """The real module of a deferred ``name``, imported on the first call; from then on the
    stand-in has the real module's names too (code that took the stand-in reads them directly)."""
    with _LOCK:
        current = sys.modules.get(name)
        if current is not None and not isinstance(getattr(current, "__spec__", None), _Spec):
            return current
        sys.modules.pop(name, None)
        try:
            real = importlib.import_module(name)
        except BaseException:
            if current is not None:
                sys.modules[name] = current
            raise
        if current is not None:
            names = {k: v for k, v in vars(real).items() if not k.startswith("__")}
            vars(current).update(names)
        return real


def defer_unused_imports() -> list[str]:
    """Register every :data:`DEFERRALS` module not imported yet (nor registered); returns their
    names. A module already imported stays as it is."""
    registered = {f.deferral.name for f in sys.meta_path if isinstance(f, _Deferred)}
    names = [
        d.name
        for d in DEFERRALS
        if d.name not in sys.modules
        and d.name not in registered
        and importlib.machinery.PathFinder.find_spec(d.name.partition(".")[0]) is not None
    ]
    for deferral in DEFERRALS:
        if deferral.name in names:
            # At the front: a thread iterating the list meanwhile sees one finder twice, never
            # skips one (only a removal could make it skip; see _Deferred).
            sys.meta_path.insert(0, _Deferred(deferral))
    return names
