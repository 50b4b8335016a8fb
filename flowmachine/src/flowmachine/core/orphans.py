"""Statements left running in FlowDB by a FlowMachine process that died (kill -9, a lost machine).

PostgreSQL notices a vanished client only when it next writes to it, so a killed server's `CREATE TABLE ... AS`
runs on to the end, holding a core, locks on the table name the resumed run needs, and temporary disk. Every
process names its connections `flowmachine:<owner token>` (`context.APPLICATION_PREFIX`); a token whose owner
lease has lapsed in Redis belongs to a dead process, and its backends are terminated. The flowmachine role may
terminate backends of its own role only, so nothing else on FlowDB can be touched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flowmachine.core.context import APPLICATION_PREFIX

if TYPE_CHECKING:
    from flowmachine.core.context import Context

log = logging.getLogger(__name__)


def terminate_orphaned_backends(ctx: Context) -> list[int]:
    """Terminate the FlowDB backends of FlowMachine processes whose owner lease has lapsed; their pids."""
    mine = APPLICATION_PREFIX + ctx.owner
    with ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT pid, application_name FROM pg_stat_activity
               WHERE datname = current_database() AND usename = current_user
                 AND starts_with(application_name, %s) AND application_name <> %s
                 AND pid <> pg_backend_pid()""",
            (APPLICATION_PREFIX, mine),
        ).fetchall()
    if not rows:
        return []
    tokens = sorted({name[len(APPLICATION_PREFIX) :] for _, name in rows})
    pipe = ctx.redis.pipeline(transaction=False)
    for token in tokens:
        pipe.exists(ctx.states.lease_key(token))
    dead = {token for token, alive in zip(tokens, pipe.execute(), strict=True) if not alive}
    pids = [pid for pid, name in rows if name[len(APPLICATION_PREFIX) :] in dead]
    if not pids:
        return []
    with ctx.pool.connection() as conn:
        terminated = [
            pid
            for (pid, done) in conn.execute(
                """SELECT pid, pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid
                   JOIN pg_stat_activity USING (pid)
                   WHERE starts_with(application_name, %s) AND application_name <> %s""",
                (pids, APPLICATION_PREFIX, mine),
            ).fetchall()
            if done
        ]
    if terminated:
        log.warning(
            "terminated %d FlowDB backends of dead FlowMachine processes: %s",
            len(terminated),
            terminated,
        )
    return terminated
