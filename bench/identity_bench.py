"""Identity benchmark: Login latency/throughput at the chosen argon2id parameters, and sign-up
end to end (Salesforce lookup, WHMCS AddClient, Postgres transaction, session) against the
sandboxes. In-process gRPC server on port 0, its own Postgres database, in-process sandboxes.
Bounded (~30 s on the shared 2-core box). Run: .venv/bin/python -m bench.identity_bench
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from portal.common.v1 import types_pb2
from portal.identity.v1 import identity_pb2 as pb
from portal.identity.v1 import identity_pb2_grpc

from sandbox.salesforce import start_salesforce
from sandbox.whmcs import start_whmcs
from services.common.migrations import migrate_service
from services.common.secret import SecretStr
from services.identity.server import build_deps, create_identity_server
from services.identity.settings import IdentitySettings
from tools import infra, signals
from tools.devkeys import ensure_keys

LOGINS, CONCURRENCY, SIGNUPS = 200, 4, 20
PASSWORD = "benchmark password 1"


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def timed(call: asyncio.Future[object] | object) -> float:
    started = time.perf_counter()
    await call  # type: ignore[misc]
    return time.perf_counter() - started


async def run(stub: identity_pb2_grpc.IdentityServiceStub, sf_ids: list[str]) -> None:
    signups: list[float] = []
    for i, number in enumerate(sf_ids):
        req = pb.SignUpRequest(
            customer_number=number,
            email=f"bench.{i}.{uuid.uuid4().hex[:6]}@example.jp",
            password=PASSWORD,
            first_name="Bench",
            last_name=f"User{i}",
            phone="+81 3 0000 0000",
            address=types_pb2.Address(
                line1="1", city="Tokyo", state="Tokyo", postcode="100", country="JP"
            ),
        )
        meta = (("x-forwarded-for", f"10.99.0.{i}"),)
        signups.append(await timed(stub.SignUp(req, metadata=meta)))
        email = req.email
    print(
        f"sign-up end to end: n={len(signups)} p50={pct(signups, 0.5):.1f} ms "
        f"p99={pct(signups, 0.99):.1f} ms"
    )
    login = pb.LoginRequest(email=email, password=PASSWORD)
    latencies: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            latencies.append(await timed(stub.Login(login)))

    started = time.perf_counter()
    await asyncio.gather(*(worker(LOGINS // CONCURRENCY) for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    print(
        f"login (argon2id m=19 MiB t=2 p=1, {CONCURRENCY} concurrent): n={len(latencies)} "
        f"p50={pct(latencies, 0.5):.1f} ms p99={pct(latencies, 0.99):.1f} ms "
        f"throughput={len(latencies) / wall:.1f} logins/s"
    )
    print(f"  (mean {statistics.mean(latencies) * 1000:.1f} ms)")


async def create_accounts(sf_url: str, n: int) -> list[str]:
    import httpx

    numbers = [f"AC-B{uuid.uuid4().hex[:8].upper()}" for _ in range(n)]
    async with httpx.AsyncClient(base_url=sf_url, timeout=10) as http:
        token = (
            await http.post(
                "/services/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=("portal-dev", "portal-dev-secret"),
            )
        ).json()["access_token"]
        for number in numbers:
            await http.post(
                "/services/data/v60.0/sobjects/Account/",
                json={
                    "Name": "Bench",
                    "SF_Account_No__c": number,
                    "Portal_Status__c": "Not Registered",
                },
                headers={"authorization": f"Bearer {token}"},
            )
    return numbers


async def main() -> None:
    base, redis_url = infra.urls_from_env()
    name = infra.run_name("portal_bench")
    url = infra.with_database(base, name)
    await infra.ensure_postgres(url)
    await infra.create_database(url)
    sf, whmcs = await start_salesforce(), await start_whmcs(port=0, webhook_url="")
    keys = Path(tempfile.mkdtemp()) / "keys"
    ensure_keys(keys)
    try:
        await migrate_service(url, "identity")
        settings = IdentitySettings(
            port=0,
            database_url=SecretStr(url),
            redis_url=SecretStr(redis_url),
            cache_namespace=name,
            signing_key_file=keys / "signing-key.pem",
            jwks_file=keys / "jwks.json",
            salesforce_url=sf.rest_url,
            whmcs_url=whmcs.url,
            login_max_failures_per_address=10_000,
        )
        deps = await build_deps(settings)
        server = create_identity_server(settings, deps)
        await server.start()
        try:
            numbers = await create_accounts(sf.rest_url, SIGNUPS)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                await run(identity_pb2_grpc.IdentityServiceStub(channel), numbers)
        finally:
            await server.stop(1)
            await deps.aclose()
    finally:
        await sf.stop()
        await whmcs.stop()
        await infra.drop_database(url)


if __name__ == "__main__":
    signals.run(main())
