"""Fill a servicer's not-yet-built RPCs with ones that answer UNIMPLEMENTED in our error shape.

The generated servicer bases default to sync methods that call ``context.set_code``, which fits
neither ``grpc.aio`` nor the documented ``ErrorInfo`` shape. ``@fill_unimplemented(descriptor)``
replaces every RPC the class does not define itself with an ``async def`` raising
:class:`Unimplemented`, so an RPC answers in the documented shape until it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.descriptor import ServiceDescriptor

from services.common.errors import Unimplemented

T = TypeVar("T", bound=type)


def _unimplemented(service: str, name: str) -> Any:
    async def rpc(self: Any, request: Any, context: Any) -> Any:
        raise Unimplemented(metadata={"method": f"{service}/{name}"})

    rpc.__name__ = name
    rpc.__qualname__ = f"{service}.{name}"
    return rpc


def fill_unimplemented(service: ServiceDescriptor) -> Callable[[T], T]:
    def decorate(cls: T) -> T:
        for method in service.methods:
            if method.name not in cls.__dict__:
                setattr(cls, method.name, _unimplemented(service.full_name, method.name))
        return cls

    return decorate
