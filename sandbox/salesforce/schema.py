"""Object and field metadata of the sandbox org (``docs/architecture.md``, "Salesforce records")."""

from __future__ import annotations

from dataclasses import dataclass, field

# field types: id string textarea email picklist multipicklist boolean double currency
# date datetime reference int


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    required: bool = False  # required on create (nillable=false, no default)
    picklist: tuple[str, ...] = ()
    default: object = None
    reference_to: str | None = None
    external_id: bool = False
    unique: bool = False
    updateable: bool = True
    createable: bool = True
    compound: str | None = None  # e.g. "BillingAddress" for BillingCity (CDC nests these)
    cascade: bool = False  # master-detail: deleting the parent deletes this record

    @property
    def relationship(self) -> str | None:
        if self.reference_to is None:
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else None


@dataclass
class SObject:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    autonumber: tuple[str, str, int] | None = None  # (field, format width, start)
    cdc: bool = True

    def lookup(self, name: str) -> Field | None:
        return self._ci.get(name.lower())

    def __post_init__(self) -> None:
        self._ci: dict[str, Field] = {}

    def add(self, *fields: Field) -> SObject:
        for f in fields:
            self.fields[f.name] = f
            self._ci[f.name.lower()] = f
        return self

    def relationship(self, name: str) -> Field | None:
        low = name.lower()
        for f in self.fields.values():
            rel = f.relationship
            if rel is not None and rel.lower() == low:
                return f
        return None


def _system() -> list[Field]:
    names = (
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("CreatedDate", "datetime"),
        ("CreatedById", "string"),
        ("LastModifiedDate", "datetime"),
        ("LastModifiedById", "string"),
        ("SystemModstamp", "datetime"),
    )
    return [Field(n, t, updateable=False, createable=False) for n, t in names]


def _address(prefix: str) -> list[Field]:
    # The sub-fields of a standard address, in the order of the compound field's CDC record.
    parts = ("Street", "City", "State", "PostalCode", "Country", "StateCode", "CountryCode",
             "Latitude", "Longitude", "GeocodeAccuracy")  # fmt: skip
    kinds = {"Street": "textarea", "Latitude": "double", "Longitude": "double"}
    return [
        Field(f"{prefix}{p}", kinds.get(p, "string"), compound=f"{prefix}Address") for p in parts
    ]


CATEGORIES = ("Internet", "SIM", "VPN", "Other")

OBJECTS: dict[str, SObject] = {}


def _define(obj: SObject, *fields: Field) -> None:
    obj.add(*_system(), *fields)
    OBJECTS[obj.name] = obj


_define(
    SObject("Account"),
    Field("Name", required=True),
    Field("SF_Account_No__c", external_id=True, unique=True),
    Field("Portal_Status__c", "picklist", picklist=("Not Registered", "Active", "Inactive")),
    Field("Portal_Registration_Source__c", "picklist", picklist=("New Signup", "WHMCS Link")),
    Field("WH_Account__c"),
    Field("Portal_Eligible_Categories__c", "multipicklist", picklist=CATEGORIES),
    Field("Phone"),
    *_address("Billing"),
)
_define(
    SObject("Contact"),
    Field("AccountId", "reference", reference_to="Account"),
    Field("FirstName"),
    Field("LastName", required=True),
    Field("Email", "email"),
    Field("Phone"),
)
_define(
    SObject("Product2"),
    Field("Name", required=True),
    Field("ProductCode"),
    Field("StockKeepingUnit", external_id=True, unique=True),
    Field("Description", "textarea"),
    Field("IsActive", "boolean", default=False),
    Field("Product2Categories1__c", "picklist", picklist=CATEGORIES),
    Field("Portal_Catalog__c", "boolean", default=False),
    Field("Portal_Accessible__c", "boolean", default=False),
    Field(
        "Item_Class__c", "picklist", picklist=("Service", "Installation", "Add-on", "Activation")
    ),
    Field("Billing_Cycle__c", "picklist", picklist=("Monthly", "Onetime", "Annually")),
    Field("WH_Product_ID__c", "double"),
    Field("SIM_Plan_Code__c"),
    Field("Display_Order__c", "double"),
)
_define(
    SObject("Pricebook2", cdc=False),
    Field("Name", required=True),
    Field("Description", "textarea"),
    Field("IsActive", "boolean", default=False),
    Field("IsStandard", "boolean", default=False, createable=False, updateable=False),
)
_define(
    SObject("PricebookEntry"),
    Field("Name", createable=False, updateable=False),
    Field("Pricebook2Id", "reference", required=True, reference_to="Pricebook2", updateable=False),
    Field("Product2Id", "reference", required=True, reference_to="Product2", updateable=False),
    Field("UnitPrice", "currency", required=True),
    Field("IsActive", "boolean", default=False),
    Field("UseStandardPrice", "boolean", default=False),
    Field("CurrencyIsoCode", "picklist", picklist=("JPY",), default="JPY"),
)
_define(
    SObject("Order", autonumber=("OrderNumber", "8", 100)),
    Field("OrderNumber", createable=False, updateable=False),
    Field("AccountId", "reference", required=True, reference_to="Account"),
    Field(
        "Status",
        "picklist",
        picklist=("Draft", "Pending Review", "Approved", "Activated"),
        default="Draft",
    ),
    Field("EffectiveDate", "date", required=True),
    Field("Pricebook2Id", "reference", reference_to="Pricebook2"),
    Field("TotalAmount", "currency", createable=False, updateable=False, default=0.0),
    Field("Order_Type__c", "picklist", picklist=("New", "Change", "Cancel")),
    Field("Portal_Request_Key__c", external_id=True, unique=True),
    *_address("Billing"),
    Field(
        "Activation_Status__c",
        "picklist",
        picklist=("Not Started", "Activating", "Activated", "Failed"),
        default="Not Started",
    ),
    Field("Activation_Error_Code__c"),
    Field("Activation_Error_Message__c", "textarea"),
    Field("WHMCS_Order_ID__c"),
    Field("SIM_Type__c", "picklist", picklist=("eSIM", "Physical")),
    Field("EID__c"),
    Field("SIM_Account__c"),
)
_define(
    SObject("OrderItem", autonumber=("OrderItemNumber", "10", 1)),
    Field("OrderItemNumber", createable=False, updateable=False),
    Field("OrderId", "reference", required=True, reference_to="Order", cascade=True),
    Field("PricebookEntryId", "reference", required=True, reference_to="PricebookEntry"),
    Field("Product2Id", "reference", reference_to="Product2", updateable=False),
    Field("Quantity", "double", required=True),
    Field("UnitPrice", "currency", required=True),
    Field("TotalPrice", "currency", createable=False, updateable=False),
    Field("WHMCS_Service_ID__c"),
)
_define(
    SObject("Case", autonumber=("CaseNumber", "8", 1001)),
    Field("CaseNumber", createable=False, updateable=False),
    Field("AccountId", "reference", reference_to="Account"),
    Field("ContactId", "reference", reference_to="Contact"),
    Field("Subject"),
    Field("Description", "textarea"),
    Field("Status", "picklist", picklist=("New", "Working", "Escalated", "Closed"), default="New"),
    Field("Priority", "picklist", picklist=("Low", "Medium", "High"), default="Medium"),
    Field("Origin", "picklist", picklist=("Portal Website", "Phone", "Email", "Web")),
    Field(
        "Type",
        "picklist",
        picklist=(
            *("Billing", "Technical", "Internet", "SIM", "SIM Cancellation", "VPN", "Order"),
            *("Account", "Other"),
        ),
    ),
    Field("IsClosed", "boolean", createable=False, updateable=False, default=False),
    # The portal's idempotency key (as on Order): a second insert with the same key is refused
    # with DUPLICATE_VALUE.
    Field("Portal_Request_Key__c", external_id=True, unique=True),
)
_define(
    SObject("CaseComment", cdc=False),
    Field("ParentId", "reference", required=True, reference_to="Case", cascade=True),
    Field("CommentBody", "textarea", required=True),
    Field("IsPublished", "boolean", default=False),
)

CDC_OBJECTS = tuple(name for name, obj in OBJECTS.items() if obj.cdc)


def get_object(name: str) -> SObject | None:
    for obj_name, obj in OBJECTS.items():
        if obj_name.lower() == name.lower():
            return obj
    return None
