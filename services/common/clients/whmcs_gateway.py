"""The one rule for a usable pay method and the gateway ``AddOrder`` is given for it.

Checkout (billing's checkout profile) and fulfillment (the WHMCS ordering step) both call
:func:`order_gateway`, so an order checkout accepted is never refused later for want of a pay
method, and the other way round.

The rule (``docs/contracts/whmcs.md``, "Pay methods and gateways"): the client's default pay
method is the first of ``GetPayMethods``. A remote (tokenised) method names its gateway in
``gateway_name``; a method stored locally in WHMCS has ``gateway_name: ""`` and is charged through
the client's ``defaultgateway`` (``GetClientsDetails``), else the first active gateway of
``GetPaymentMethods``. No pay method, or no gateway at all: not usable (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.clients.whmcs import WhmcsClient


async def order_gateway(
    whmcs: WhmcsClient, client_id: int, method_gateways: Sequence[str]
) -> str | None:
    """The ``paymentmethod`` for an order of this client, whose pay methods (in WHMCS's order)
    have these ``gateway_name`` values; ``None`` when the client has no usable pay method."""
    if not method_gateways:
        return None
    if method_gateways[0]:
        return method_gateways[0]
    client = await whmcs.get_clients_details(client_id)
    default = str(client.get("defaultgateway") or "").strip()
    if default:
        return default
    active = await whmcs.get_payment_methods()
    return next((str(g["module"]) for g in active if g.get("module")), None)
