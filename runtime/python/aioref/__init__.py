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

from ._loop import (Core, EventLoopPolicy, FullLoop, Handle, Loop, TimerHandle,  # noqa: F401
                    install, new_event_loop, new_full_event_loop, run)
from ._loop import _core

Future = _core.Future  # mode "full": the C++ Future and Task (FullLoop's)
Task = _core.Task

__all__ = ("Loop", "FullLoop", "EventLoopPolicy", "new_event_loop", "new_full_event_loop",
           "install", "run")
