from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from portal.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_CATEGORY_UNSPECIFIED: _ClassVar[ProductCategory]
    PRODUCT_CATEGORY_INTERNET: _ClassVar[ProductCategory]
    PRODUCT_CATEGORY_SIM: _ClassVar[ProductCategory]
    PRODUCT_CATEGORY_VPN: _ClassVar[ProductCategory]
    PRODUCT_CATEGORY_OTHER: _ClassVar[ProductCategory]

class ItemClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_CLASS_UNSPECIFIED: _ClassVar[ItemClass]
    ITEM_CLASS_SERVICE: _ClassVar[ItemClass]
    ITEM_CLASS_INSTALLATION: _ClassVar[ItemClass]
    ITEM_CLASS_ADD_ON: _ClassVar[ItemClass]
    ITEM_CLASS_ACTIVATION: _ClassVar[ItemClass]
PRODUCT_CATEGORY_UNSPECIFIED: ProductCategory
PRODUCT_CATEGORY_INTERNET: ProductCategory
PRODUCT_CATEGORY_SIM: ProductCategory
PRODUCT_CATEGORY_VPN: ProductCategory
PRODUCT_CATEGORY_OTHER: ProductCategory
ITEM_CLASS_UNSPECIFIED: ItemClass
ITEM_CLASS_SERVICE: ItemClass
ITEM_CLASS_INSTALLATION: ItemClass
ITEM_CLASS_ADD_ON: ItemClass
ITEM_CLASS_ACTIVATION: ItemClass

class Product(_message.Message):
    __slots__ = ("id", "sku", "name", "description", "category", "item_class", "billing_cycle", "unit_price", "currency_code", "orderable", "eligible", "ineligible_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ITEM_CLASS_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    ORDERABLE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    sku: str
    name: str
    description: str
    category: ProductCategory
    item_class: ItemClass
    billing_cycle: _types_pb2.BillingCycle
    unit_price: str
    currency_code: str
    orderable: bool
    eligible: bool
    ineligible_reason: str
    def __init__(self, id: _Optional[str] = ..., sku: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[_Union[ProductCategory, str]] = ..., item_class: _Optional[_Union[ItemClass, str]] = ..., billing_cycle: _Optional[_Union[_types_pb2.BillingCycle, str]] = ..., unit_price: _Optional[str] = ..., currency_code: _Optional[str] = ..., orderable: _Optional[bool] = ..., eligible: _Optional[bool] = ..., ineligible_reason: _Optional[str] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("category",)
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    category: ProductCategory
    def __init__(self, category: _Optional[_Union[ProductCategory, str]] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products",)
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("product_id",)
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    def __init__(self, product_id: _Optional[str] = ...) -> None: ...

class GetProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class GetEligibilityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEligibilityResponse(_message.Message):
    __slots__ = ("eligible_categories",)
    ELIGIBLE_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    eligible_categories: _containers.RepeatedScalarFieldContainer[ProductCategory]
    def __init__(self, eligible_categories: _Optional[_Iterable[_Union[ProductCategory, str]]] = ...) -> None: ...
