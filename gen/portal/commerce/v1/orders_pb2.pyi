import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from portal.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_DRAFT: _ClassVar[OrderStatus]
    ORDER_STATUS_PENDING_REVIEW: _ClassVar[OrderStatus]
    ORDER_STATUS_APPROVED: _ClassVar[OrderStatus]
    ORDER_STATUS_ACTIVATED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]

class ActivationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVATION_STATUS_UNSPECIFIED: _ClassVar[ActivationStatus]
    ACTIVATION_STATUS_NOT_STARTED: _ClassVar[ActivationStatus]
    ACTIVATION_STATUS_ACTIVATING: _ClassVar[ActivationStatus]
    ACTIVATION_STATUS_ACTIVATED: _ClassVar[ActivationStatus]
    ACTIVATION_STATUS_FAILED: _ClassVar[ActivationStatus]

class SimType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIM_TYPE_UNSPECIFIED: _ClassVar[SimType]
    SIM_TYPE_ESIM: _ClassVar[SimType]
    SIM_TYPE_PHYSICAL: _ClassVar[SimType]

class SimStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIM_STATUS_UNSPECIFIED: _ClassVar[SimStatus]
    SIM_STATUS_ACTIVATING: _ClassVar[SimStatus]
    SIM_STATUS_ACTIVE: _ClassVar[SimStatus]
    SIM_STATUS_CANCELLATION_PENDING: _ClassVar[SimStatus]
    SIM_STATUS_CANCELLED: _ClassVar[SimStatus]
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_DRAFT: OrderStatus
ORDER_STATUS_PENDING_REVIEW: OrderStatus
ORDER_STATUS_APPROVED: OrderStatus
ORDER_STATUS_ACTIVATED: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ACTIVATION_STATUS_UNSPECIFIED: ActivationStatus
ACTIVATION_STATUS_NOT_STARTED: ActivationStatus
ACTIVATION_STATUS_ACTIVATING: ActivationStatus
ACTIVATION_STATUS_ACTIVATED: ActivationStatus
ACTIVATION_STATUS_FAILED: ActivationStatus
SIM_TYPE_UNSPECIFIED: SimType
SIM_TYPE_ESIM: SimType
SIM_TYPE_PHYSICAL: SimType
SIM_STATUS_UNSPECIFIED: SimStatus
SIM_STATUS_ACTIVATING: SimStatus
SIM_STATUS_ACTIVE: SimStatus
SIM_STATUS_CANCELLATION_PENDING: SimStatus
SIM_STATUS_CANCELLED: SimStatus

class Sim(_message.Message):
    __slots__ = ("msisdn", "sim_type", "plan_name", "plan_code", "status", "activated_on", "cancellation_date", "order_id")
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    SIM_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_ON_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    msisdn: str
    sim_type: SimType
    plan_name: str
    plan_code: str
    status: SimStatus
    activated_on: str
    cancellation_date: str
    order_id: str
    def __init__(self, msisdn: _Optional[str] = ..., sim_type: _Optional[_Union[SimType, str]] = ..., plan_name: _Optional[str] = ..., plan_code: _Optional[str] = ..., status: _Optional[_Union[SimStatus, str]] = ..., activated_on: _Optional[str] = ..., cancellation_date: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("id", "order_number", "status", "activation_status", "error_code", "error_message", "created_at", "items", "total_amount", "currency_code", "billing_address")
    ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    BILLING_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    id: str
    order_number: str
    status: OrderStatus
    activation_status: ActivationStatus
    error_code: str
    error_message: str
    created_at: _timestamp_pb2.Timestamp
    items: _containers.RepeatedCompositeFieldContainer[OrderItem]
    total_amount: str
    currency_code: str
    billing_address: _types_pb2.Address
    def __init__(self, id: _Optional[str] = ..., order_number: _Optional[str] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., activation_status: _Optional[_Union[ActivationStatus, str]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Iterable[_Union[OrderItem, _Mapping]]] = ..., total_amount: _Optional[str] = ..., currency_code: _Optional[str] = ..., billing_address: _Optional[_Union[_types_pb2.Address, _Mapping]] = ...) -> None: ...

class OrderItem(_message.Message):
    __slots__ = ("product_id", "sku", "name", "quantity", "unit_price")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: str
    def __init__(self, product_id: _Optional[str] = ..., sku: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ...) -> None: ...

class OrderLine(_message.Message):
    __slots__ = ("product_id", "quantity")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    quantity: int
    def __init__(self, product_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class SimDetails(_message.Message):
    __slots__ = ("sim_type", "eid")
    SIM_TYPE_FIELD_NUMBER: _ClassVar[int]
    EID_FIELD_NUMBER: _ClassVar[int]
    sim_type: SimType
    eid: str
    def __init__(self, sim_type: _Optional[_Union[SimType, str]] = ..., eid: _Optional[str] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("request_id", "items", "sim")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SIM_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    items: _containers.RepeatedCompositeFieldContainer[OrderLine]
    sim: SimDetails
    def __init__(self, request_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., sim: _Optional[_Union[SimDetails, _Mapping]] = ...) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class WatchOrdersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchOrdersResponse(_message.Message):
    __slots__ = ("order", "heartbeat", "sim")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SIM_FIELD_NUMBER: _ClassVar[int]
    order: Order
    heartbeat: bool
    sim: Sim
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., heartbeat: _Optional[bool] = ..., sim: _Optional[_Union[Sim, _Mapping]] = ...) -> None: ...
