"""What of the Salesforce org survives a restart (see ``sandbox/persistence.py``): the records
with their id and auto-number sequences, the Pub/Sub event log with its replay ids (so a
subscriber's stored replay id stays valid), and the CDC commit number."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.persistence import Part

if TYPE_CHECKING:
    from .server import SalesforceState


def persisted_parts(state: SalesforceState) -> dict[str, Part]:
    return {
        "store": Part(lambda: state.store, skip=frozenset({"clock"})),
        "bus": Part(lambda: state.bus, skip=frozenset({"_listeners", "retention_s"})),
        "org": Part(lambda: state, only=frozenset({"commit_number"})),
    }
