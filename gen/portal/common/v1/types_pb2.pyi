from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BillingCycle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILLING_CYCLE_UNSPECIFIED: _ClassVar[BillingCycle]
    BILLING_CYCLE_ONE_TIME: _ClassVar[BillingCycle]
    BILLING_CYCLE_MONTHLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_QUARTERLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_SEMI_ANNUALLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_ANNUALLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_BIENNIALLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_TRIENNIALLY: _ClassVar[BillingCycle]
    BILLING_CYCLE_FREE: _ClassVar[BillingCycle]
BILLING_CYCLE_UNSPECIFIED: BillingCycle
BILLING_CYCLE_ONE_TIME: BillingCycle
BILLING_CYCLE_MONTHLY: BillingCycle
BILLING_CYCLE_QUARTERLY: BillingCycle
BILLING_CYCLE_SEMI_ANNUALLY: BillingCycle
BILLING_CYCLE_ANNUALLY: BillingCycle
BILLING_CYCLE_BIENNIALLY: BillingCycle
BILLING_CYCLE_TRIENNIALLY: BillingCycle
BILLING_CYCLE_FREE: BillingCycle

class Address(_message.Message):
    __slots__ = ("line1", "line2", "city", "state", "postcode", "country")
    LINE1_FIELD_NUMBER: _ClassVar[int]
    LINE2_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSTCODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    line1: str
    line2: str
    city: str
    state: str
    postcode: str
    country: str
    def __init__(self, line1: _Optional[str] = ..., line2: _Optional[str] = ..., city: _Optional[str] = ..., state: _Optional[str] = ..., postcode: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...
