import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from portal.common.v1 import annotations_pb2 as _annotations_pb2_1
from portal.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_UNPAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_OVERDUE: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_CANCELLED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_REFUNDED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_COLLECTIONS: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_DRAFT: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAYMENT_PENDING: _ClassVar[InvoiceStatus]

class PaymentMethodType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_TYPE_UNSPECIFIED: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_CARD: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_BANK_ACCOUNT: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_REMOTE_CARD: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_REMOTE_BANK_ACCOUNT: _ClassVar[PaymentMethodType]

class SubscriptionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATUS_UNSPECIFIED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_PENDING: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_ACTIVE: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_SUSPENDED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_TERMINATED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_CANCELLED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_FRAUD: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_COMPLETED: _ClassVar[SubscriptionStatus]
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
INVOICE_STATUS_UNPAID: InvoiceStatus
INVOICE_STATUS_PAID: InvoiceStatus
INVOICE_STATUS_OVERDUE: InvoiceStatus
INVOICE_STATUS_CANCELLED: InvoiceStatus
INVOICE_STATUS_REFUNDED: InvoiceStatus
INVOICE_STATUS_COLLECTIONS: InvoiceStatus
INVOICE_STATUS_DRAFT: InvoiceStatus
INVOICE_STATUS_PAYMENT_PENDING: InvoiceStatus
PAYMENT_METHOD_TYPE_UNSPECIFIED: PaymentMethodType
PAYMENT_METHOD_TYPE_CARD: PaymentMethodType
PAYMENT_METHOD_TYPE_BANK_ACCOUNT: PaymentMethodType
PAYMENT_METHOD_TYPE_REMOTE_CARD: PaymentMethodType
PAYMENT_METHOD_TYPE_REMOTE_BANK_ACCOUNT: PaymentMethodType
SUBSCRIPTION_STATUS_UNSPECIFIED: SubscriptionStatus
SUBSCRIPTION_STATUS_PENDING: SubscriptionStatus
SUBSCRIPTION_STATUS_ACTIVE: SubscriptionStatus
SUBSCRIPTION_STATUS_SUSPENDED: SubscriptionStatus
SUBSCRIPTION_STATUS_TERMINATED: SubscriptionStatus
SUBSCRIPTION_STATUS_CANCELLED: SubscriptionStatus
SUBSCRIPTION_STATUS_FRAUD: SubscriptionStatus
SUBSCRIPTION_STATUS_COMPLETED: SubscriptionStatus

class Invoice(_message.Message):
    __slots__ = ("id", "number", "status", "issued_on", "due_on", "paid_at", "currency_code", "subtotal", "tax", "total", "balance", "items")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_ON_FIELD_NUMBER: _ClassVar[int]
    DUE_ON_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    number: str
    status: InvoiceStatus
    issued_on: str
    due_on: str
    paid_at: _timestamp_pb2.Timestamp
    currency_code: str
    subtotal: str
    tax: str
    total: str
    balance: str
    items: _containers.RepeatedCompositeFieldContainer[InvoiceItem]
    def __init__(self, id: _Optional[str] = ..., number: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., issued_on: _Optional[str] = ..., due_on: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency_code: _Optional[str] = ..., subtotal: _Optional[str] = ..., tax: _Optional[str] = ..., total: _Optional[str] = ..., balance: _Optional[str] = ..., items: _Optional[_Iterable[_Union[InvoiceItem, _Mapping]]] = ...) -> None: ...

class InvoiceItem(_message.Message):
    __slots__ = ("description", "amount", "type")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    description: str
    amount: str
    type: str
    def __init__(self, description: _Optional[str] = ..., amount: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class PaymentMethod(_message.Message):
    __slots__ = ("id", "type", "description", "card_brand", "last_four", "expiry", "bank_name", "gateway_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CARD_BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST_FOUR_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    BANK_NAME_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: PaymentMethodType
    description: str
    card_brand: str
    last_four: str
    expiry: str
    bank_name: str
    gateway_name: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[PaymentMethodType, str]] = ..., description: _Optional[str] = ..., card_brand: _Optional[str] = ..., last_four: _Optional[str] = ..., expiry: _Optional[str] = ..., bank_name: _Optional[str] = ..., gateway_name: _Optional[str] = ...) -> None: ...

class PaymentGateway(_message.Message):
    __slots__ = ("name", "display_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("id", "product_name", "group_name", "status", "billing_cycle", "recurring_amount", "currency_code", "registered_on", "next_due_on")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_FIELD_NUMBER: _ClassVar[int]
    RECURRING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    NEXT_DUE_ON_FIELD_NUMBER: _ClassVar[int]
    id: str
    product_name: str
    group_name: str
    status: SubscriptionStatus
    billing_cycle: _types_pb2.BillingCycle
    recurring_amount: str
    currency_code: str
    registered_on: str
    next_due_on: str
    def __init__(self, id: _Optional[str] = ..., product_name: _Optional[str] = ..., group_name: _Optional[str] = ..., status: _Optional[_Union[SubscriptionStatus, str]] = ..., billing_cycle: _Optional[_Union[_types_pb2.BillingCycle, str]] = ..., recurring_amount: _Optional[str] = ..., currency_code: _Optional[str] = ..., registered_on: _Optional[str] = ..., next_due_on: _Optional[str] = ...) -> None: ...

class BillingProfile(_message.Message):
    __slots__ = ("first_name", "last_name", "company_name", "email", "phone", "address")
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    first_name: str
    last_name: str
    company_name: str
    email: str
    phone: str
    address: _types_pb2.Address
    def __init__(self, first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., company_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., address: _Optional[_Union[_types_pb2.Address, _Mapping]] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: InvoiceStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[InvoiceStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token", "total_size")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    total_size: int
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class GetInvoiceResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ...) -> None: ...

class CreateInvoicePaymentLinkRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class CreateInvoicePaymentLinkResponse(_message.Message):
    __slots__ = ("url", "expires_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPaymentMethodsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPaymentMethodsResponse(_message.Message):
    __slots__ = ("payment_methods",)
    PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    payment_methods: _containers.RepeatedCompositeFieldContainer[PaymentMethod]
    def __init__(self, payment_methods: _Optional[_Iterable[_Union[PaymentMethod, _Mapping]]] = ...) -> None: ...

class ListPaymentGatewaysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPaymentGatewaysResponse(_message.Message):
    __slots__ = ("gateways",)
    GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    gateways: _containers.RepeatedCompositeFieldContainer[PaymentGateway]
    def __init__(self, gateways: _Optional[_Iterable[_Union[PaymentGateway, _Mapping]]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: SubscriptionStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[SubscriptionStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token", "total_size")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    total_size: int
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class GetBillingProfileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBillingProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: BillingProfile
    def __init__(self, profile: _Optional[_Union[BillingProfile, _Mapping]] = ...) -> None: ...

class UpdateBillingProfileRequest(_message.Message):
    __slots__ = ("profile", "update_mask")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    profile: BillingProfile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, profile: _Optional[_Union[BillingProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateBillingProfileResponse(_message.Message):
    __slots__ = ("profile", "pending_email")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PENDING_EMAIL_FIELD_NUMBER: _ClassVar[int]
    profile: BillingProfile
    pending_email: str
    def __init__(self, profile: _Optional[_Union[BillingProfile, _Mapping]] = ..., pending_email: _Optional[str] = ...) -> None: ...

class ConfirmBillingEmailRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class ConfirmBillingEmailResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: BillingProfile
    def __init__(self, profile: _Optional[_Union[BillingProfile, _Mapping]] = ...) -> None: ...

class HandleWhmcsWebhookRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class HandleWhmcsWebhookResponse(_message.Message):
    __slots__ = ("duplicate",)
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    duplicate: bool
    def __init__(self, duplicate: _Optional[bool] = ...) -> None: ...

class HasPaymentMethodRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class HasPaymentMethodResponse(_message.Message):
    __slots__ = ("has_payment_method",)
    HAS_PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    has_payment_method: bool
    def __init__(self, has_payment_method: _Optional[bool] = ...) -> None: ...

class GetCheckoutProfileRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetCheckoutProfileResponse(_message.Message):
    __slots__ = ("profile", "has_payment_method", "payment_gateway", "whmcs_client_id")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    HAS_PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_GATEWAY_FIELD_NUMBER: _ClassVar[int]
    WHMCS_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    profile: BillingProfile
    has_payment_method: bool
    payment_gateway: str
    whmcs_client_id: int
    def __init__(self, profile: _Optional[_Union[BillingProfile, _Mapping]] = ..., has_payment_method: _Optional[bool] = ..., payment_gateway: _Optional[str] = ..., whmcs_client_id: _Optional[int] = ...) -> None: ...
