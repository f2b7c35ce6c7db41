"""aioref: asyncio event loops whose core is aioref's C++ reference loop (runtime/).

    import asyncio, aioref
    asyncio.run(main(), loop_factory=aioref.new_event_loop)   # 3.12+
    aioref.run(main())                                        # any version
    aioref.install()                                          # the policy, like uvloop.install()

Mode "loop" (aioref.Loop, new_event_loop): CPython's own Future and Task run on the C++ loop's
ready queue, timer heap and _run_once. Mode "full" (aioref.FullLoop, new_full_event_loop): the
same loop, whose create_future/create_task return the C++ Future and Task (future.h, task.h),
which step the Python coroutines themselves (runtime/python/README.md).
"""

import asyncio
import sys
import warnings

from ._loop import (Core, EventLoopPolicy, FullLoop, Handle, Loop, TimerHandle,  # noqa: F401
                    install, new_event_loop, new_full_event_loop, run)
from ._loop import _core

Future = _core.Future  # mode "full": the C++ Future and Task (FullLoop's)
Task = _core.Task

if sys.version_info < (3, 9):
    # 3.8's Task has the classmethods all_tasks() and current_task(), deprecated (3.9 removes
    # them), as _asyncio's Task has them.
    def _all_tasks(cls, loop=None):
        """Return a set of all tasks for an event loop.

By default all tasks for the current event loop are returned."""
        warnings.warn("Task.all_tasks() is deprecated, use asyncio.all_tasks() instead",
                      DeprecationWarning, stacklevel=2)
        return asyncio.tasks._all_tasks_compat(loop)

    def _current_task(cls, loop=None):
        """Return the currently running task in an event loop or None.

By default the current task for the current event loop is returned.

None is returned when called not in the context of a Task."""
        warnings.warn("Task.current_task() is deprecated, use asyncio.current_task() instead",
                      DeprecationWarning, stacklevel=2)
        if loop is None:
            loop = asyncio.get_event_loop()
        return asyncio.current_task(loop)

    Task.all_tasks = classmethod(_all_tasks)
    Task.current_task = classmethod(_current_task)

__all__ = ("Loop", "FullLoop", "EventLoopPolicy", "new_event_loop", "new_full_event_loop",
           "install", "run")
