"""Metadata answers of the REST API: the version list, the global describe and sObject describe.

Shapes after the REST API Developer Guide ("Versions", "Describe Global", "sObject Describe"),
reduced to the keys a developer of the portal reads (names, types, picklists, references).
"""

from __future__ import annotations

from typing import Any

from .ids import KEY_PREFIXES
from .schema import OBJECTS, Field, SObject

VERSIONS = (("Winter '24", "59.0"), ("Spring '24", "60.0"), ("Summer '24", "61.0"),
            ("Winter '25", "62.0"))  # fmt: skip
_SOAP_TYPES = {"boolean": "xsd:boolean", "double": "xsd:double", "currency": "xsd:double",
               "int": "xsd:int", "date": "xsd:date", "datetime": "xsd:dateTime",
               "id": "tns:ID", "reference": "tns:ID"}  # fmt: skip


def versions() -> list[dict[str, str]]:
    return [{"label": label, "url": f"/services/data/v{v}", "version": v} for label, v in VERSIONS]


def _urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/{version}/sobjects/{name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _summary(obj: SObject, version: str) -> dict[str, Any]:
    custom = obj.name.endswith("__c")
    return {"name": obj.name, "label": obj.name, "keyPrefix": KEY_PREFIXES.get(obj.name),
            "custom": custom, "createable": True, "updateable": True, "deletable": True,
            "queryable": True, "urls": _urls(version, obj.name)}  # fmt: skip


def global_describe(version: str) -> dict[str, Any]:
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [_summary(o, version) for o in OBJECTS.values()]}  # fmt: skip


def _field(f: Field) -> dict[str, Any]:
    kind = "id" if f.name == "Id" else f.type
    return {
        "name": f.name, "label": f.name, "type": kind,
        "soapType": _SOAP_TYPES.get(kind, "xsd:string"),
        "custom": f.name.endswith("__c"), "nillable": not f.required and f.name != "Id",
        "createable": f.createable, "updateable": f.updateable, "externalId": f.external_id,
        "unique": f.unique, "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship, "compoundFieldName": f.compound,
        "defaultValue": f.default,
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": v == f.default}
            for v in f.picklist
        ],
    }  # fmt: skip


def describe(obj: SObject, version: str) -> dict[str, Any]:
    return {**_summary(obj, version), "fields": [_field(f) for f in obj.fields.values()]}
