"""Local Salesforce emulator: OAuth + REST data API (aiohttp) and Pub/Sub CDC (grpc.aio)."""

from .config import Settings
from .server import RunningSalesforce, SalesforceState, start_salesforce

__all__ = ["RunningSalesforce", "SalesforceState", "Settings", "start_salesforce"]
