"""WHMCS sandbox: the External API (``/includes/api.php``), SSO pages and hook webhooks.

Written from ``docs/contracts/whmcs.md`` only. Start it with ``python -m sandbox.whmcs`` or, in
tests, ``await start_whmcs(port=0)``.
"""

from sandbox.whmcs.app import RunningWhmcs, build_app, start_whmcs
from sandbox.whmcs.phpform import php_b64_encode
from sandbox.whmcs.settings import WhmcsSettings, settings_from_env

__all__ = [
    "RunningWhmcs",
    "WhmcsSettings",
    "build_app",
    "php_b64_encode",
    "settings_from_env",
    "start_whmcs",
]
