"""Local emulators of the systems of record (Salesforce, WHMCS, Freebit).

Written from ``../shared/contracts`` only: nothing here imports ``services``.
"""
