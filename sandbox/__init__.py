"""Local emulators of the systems of record (Salesforce, WHMCS, Freebit).

Written from public references of the real systems (Salesforce: ``docs/contracts/salesforce.md``)
only: nothing here imports ``services``.
"""
