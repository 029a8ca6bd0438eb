"""Local emulators of the systems of record (Salesforce, WHMCS, Freebit).

Written from public references of the real systems (``docs/contracts/``) only: nothing here
imports ``services``.
"""
