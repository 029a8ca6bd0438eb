"""Freebit sandbox: the MVNO "PA" API (``/emptool/api/...``) with a state machine per line.

Written from ``contracts/freebit.md`` only. Start it with ``python -m sandbox.freebit`` or, in
tests, ``await start_freebit(port=0)``.
"""

from sandbox.freebit.app import RunningFreebit, build_app, start_freebit
from sandbox.freebit.settings import FreebitSettings, settings_from_env

__all__ = ["FreebitSettings", "RunningFreebit", "build_app", "settings_from_env", "start_freebit"]
