"""The one normal form of an e-mail address: Unicode NFKC, then full case folding.

Every comparison of addresses (look-ups, the unique index, throttling keys, "the typed e-mail is
the account's") goes through :func:`email_key`, computed here in Python and stored in
``identity.users.email_key``; SQL only compares stored keys and never folds case itself, so the
database's ``lower()`` (which differs, e.g. on ``İ``) plays no part. Billing uses it to tell
whether a profile update changes the e-mail.
"""

from __future__ import annotations

import unicodedata


def email_key(email: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())
