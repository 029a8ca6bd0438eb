from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Auth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_UNSPECIFIED: _ClassVar[Auth]
    AUTH_BEARER: _ClassVar[Auth]
    AUTH_PUBLIC: _ClassVar[Auth]
    AUTH_SIGNED_WEBHOOK: _ClassVar[Auth]
AUTH_UNSPECIFIED: Auth
AUTH_BEARER: Auth
AUTH_PUBLIC: Auth
AUTH_SIGNED_WEBHOOK: Auth
AUTH_FIELD_NUMBER: _ClassVar[int]
auth: _descriptor.FieldDescriptor
