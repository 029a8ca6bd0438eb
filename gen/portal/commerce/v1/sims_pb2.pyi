import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from portal.commerce.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MonthlyUsage(_message.Message):
    __slots__ = ("month", "used_mb")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    USED_MB_FIELD_NUMBER: _ClassVar[int]
    month: str
    used_mb: int
    def __init__(self, month: _Optional[str] = ..., used_mb: _Optional[int] = ...) -> None: ...

class SimUsage(_message.Message):
    __slots__ = ("msisdn", "used_today_mb", "used_this_month_mb", "previous_months", "has_quota", "remaining_quota_mb", "as_of_date", "fetched_at")
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    USED_TODAY_MB_FIELD_NUMBER: _ClassVar[int]
    USED_THIS_MONTH_MB_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MONTHS_FIELD_NUMBER: _ClassVar[int]
    HAS_QUOTA_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUOTA_MB_FIELD_NUMBER: _ClassVar[int]
    AS_OF_DATE_FIELD_NUMBER: _ClassVar[int]
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    msisdn: str
    used_today_mb: int
    used_this_month_mb: int
    previous_months: _containers.RepeatedCompositeFieldContainer[MonthlyUsage]
    has_quota: bool
    remaining_quota_mb: int
    as_of_date: str
    fetched_at: _timestamp_pb2.Timestamp
    def __init__(self, msisdn: _Optional[str] = ..., used_today_mb: _Optional[int] = ..., used_this_month_mb: _Optional[int] = ..., previous_months: _Optional[_Iterable[_Union[MonthlyUsage, _Mapping]]] = ..., has_quota: _Optional[bool] = ..., remaining_quota_mb: _Optional[int] = ..., as_of_date: _Optional[str] = ..., fetched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSimsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSimsResponse(_message.Message):
    __slots__ = ("sims",)
    SIMS_FIELD_NUMBER: _ClassVar[int]
    sims: _containers.RepeatedCompositeFieldContainer[_orders_pb2.Sim]
    def __init__(self, sims: _Optional[_Iterable[_Union[_orders_pb2.Sim, _Mapping]]] = ...) -> None: ...

class GetSimUsageRequest(_message.Message):
    __slots__ = ("msisdn", "refresh")
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    msisdn: str
    refresh: bool
    def __init__(self, msisdn: _Optional[str] = ..., refresh: _Optional[bool] = ...) -> None: ...

class GetSimUsageResponse(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: SimUsage
    def __init__(self, usage: _Optional[_Union[SimUsage, _Mapping]] = ...) -> None: ...

class CancelSimRequest(_message.Message):
    __slots__ = ("msisdn", "request_id", "run_date")
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_DATE_FIELD_NUMBER: _ClassVar[int]
    msisdn: str
    request_id: str
    run_date: str
    def __init__(self, msisdn: _Optional[str] = ..., request_id: _Optional[str] = ..., run_date: _Optional[str] = ...) -> None: ...

class CancelSimResponse(_message.Message):
    __slots__ = ("sim", "case_number")
    SIM_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    sim: _orders_pb2.Sim
    case_number: str
    def __init__(self, sim: _Optional[_Union[_orders_pb2.Sim, _Mapping]] = ..., case_number: _Optional[str] = ...) -> None: ...
