"""Local emulators of the systems of record (Salesforce, WHMCS, Freebit).

Written from the systems' contracts (``docs/contracts/``) only: nothing here imports ``services``.
"""
