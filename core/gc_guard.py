"""Work around a CPython 3.11 heap corruption: collect garbage only at safe points.

On CPython 3.11, an automatic collection may start inside the allocation of an object's
``__dict__`` (``make_dict_from_instance_attributes``, when an attribute is set). If a weak
reference callback run by that collection sets an attribute on the same object — SQLAlchemy's
identity map does so through its weakref callbacks — the object's inline values are freed twice.
Valgrind shows the double free; the process later dies in a segfault or
``malloc(): invalid chunk size``. CPython 3.12 rewrote that code and is not affected.

On 3.11, :func:`install` switches automatic collection off and collects at the end of every
application context (each request, job and CLI command) instead, with CPython's own thresholds:
a collection started from Python code never runs inside that C function. Nothing changes on 3.12+.
``PILOTE_GC_GUARD=0`` turns the guard off, ``=1`` forces it on any version.
"""

from __future__ import annotations

import gc
import os
import sys

AFFECTED = sys.version_info[:2] == (3, 11)


def wanted() -> bool:
    setting = os.environ.get("PILOTE_GC_GUARD", "").strip()
    return AFFECTED if setting == "" else setting not in ("0", "false", "no", "off")


def collect_if_due(*_args) -> None:
    """Collect the generation CPython's thresholds call for, if any (a no-op when GC runs itself)."""
    if gc.isenabled():
        return
    count0, count1, count2 = gc.get_count()
    threshold0, threshold1, threshold2 = gc.get_threshold()
    if count0 < threshold0:
        return
    gc.collect(2 if count2 >= threshold2 else 1 if count1 >= threshold1 else 0)


def install(app) -> None:
    """Turn automatic collection off and collect when each application context of ``app`` ends."""
    if not wanted():
        return
    gc.disable()
    app.teardown_appcontext(collect_if_due)


def for_forking_worker() -> None:
    """``pilote worker``: its parent process only waits on Redis and forks a child per job, so it
    gets automatic collection back (it would otherwise never collect); each forked child, which
    runs the job in an application context, starts with automatic collection off again."""
    if gc.isenabled() or not wanted():
        return
    gc.enable()
    os.register_at_fork(after_in_child=gc.disable)
