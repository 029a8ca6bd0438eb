"""A tool with gRPC calls in flight starts its children safely: they are forked with a
``preexec_fn`` (``tools.signals.term_with_parent``) and gRPC's fork handlers, left on, start its
pollers again in the child before exec, where the child can die (SIGSEGV) before running
anything: the e2e stack once failed to start that way. ``tools.signals`` turns them off."""

from __future__ import annotations

import textwrap

from tests.helpers.fresh import ROOT, run_python

CHILDREN = 150

# A process as the tools are: tools.signals first, then gRPC with a server and four tasks calling
# it without pause, and children started the way tools.stack starts them.
SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tools.signals import term_with_parent
    import grpc
    from grpc import aio

    async def main():
        server = aio.server()
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = aio.insecure_channel(f"127.0.0.1:{port}")

        async def call():
            while True:
                try:
                    await channel.unary_unary("/t.Busy/Call")(b"", timeout=0.05)
                except grpc.RpcError:
                    pass

        callers = [asyncio.create_task(call()) for _ in range(4)]
        await asyncio.sleep(0.2)
        failed = []
        for _ in range(int(sys.argv[1])):
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "pass", start_new_session=True,
                preexec_fn=term_with_parent, stderr=asyncio.subprocess.PIPE,
            )
            err = await child.stderr.read()
            if await child.wait() != 0 or err:
                failed.append((child.returncode, err[:200]))
        for task in callers:
            task.cancel()
        await channel.close()
        await server.stop(None)
        print(len(failed), failed[:3])

    asyncio.run(main())
    """
)


def test_children_started_while_grpc_is_busy_all_run() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no GRPC_ENABLE_FORK_SUPPORT given
    done = run_python(SCRIPT, str(CHILDREN), env=env, timeout=240)
    assert done.stdout.split(" ", 1)[0] == "0", done.stdout
