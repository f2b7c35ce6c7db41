"""The fuzzer's one representation of a program, from which every rendering is made.

A program is a few coroutine functions and `main`, each a list of statements; main runs under
asyncio.run(). Function i may only call or spawn functions after it, so every program
terminates: no recursion, every sleep finite, every wait on another task's progress bounded
(a timeout, or a task that itself terminates). Statements are plain data (frozen dataclasses
with tuple fields), so the shrinker can rebuild any part, and equal programs render to equal
bytes.

Renderings: render_python.py (the program CPython and the Python loops run) and render_cpp.py
(the same program as a C++ port on runtime/, what `--loop native` runs).
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional, Tuple


# -- what an awaiting statement waits on: a task of this function, or a fresh call ---------

@dataclass(frozen=True)
class Task:
    var: str  # a task this function spawned (Spawn.var)


@dataclass(frozen=True)
class Call:
    func: str  # a coroutine function defined after the caller


# -- statements ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Sleep:
    delay: float


@dataclass(frozen=True)
class Spawn:
    var: str
    call: Call


@dataclass(frozen=True)
class Await:
    """Await a task or a call and print its result, exception or cancellation."""
    what: object  # Task or Call
    reraise: bool  # re-raise a CancelledError (else the function goes on)


@dataclass(frozen=True)
class Cancel:
    var: str
    message: Optional[str]  # Python 3.9+


@dataclass(frozen=True)
class Gather:
    items: Tuple[object, ...]
    return_exceptions: bool
    reraise: bool


@dataclass(frozen=True)
class Wait:
    vars: Tuple[str, ...]
    return_when: str  # ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION
    timeout: Optional[float]
    reraise: bool


@dataclass(frozen=True)
class WaitFor:
    what: object
    timeout: Optional[float]
    reraise: bool


@dataclass(frozen=True)
class Shield:
    var: str
    timeout: Optional[float]  # wait_for(shield(t), timeout) when set
    reraise: bool


@dataclass(frozen=True)
class AsCompleted:
    vars: Tuple[str, ...]
    timeout: Optional[float]
    reraise: bool


@dataclass(frozen=True)
class Timeout:
    """async with asyncio.timeout(delay): body (3.11+)."""
    delay: Optional[float]
    body: Tuple[object, ...]
    reraise: bool


@dataclass(frozen=True)
class TaskGroup:
    """async with asyncio.TaskGroup() as tg: one tg.create_task per call, then body (3.11+)."""
    calls: Tuple[Call, ...]
    body: Tuple[object, ...]
    reraise: bool


@dataclass(frozen=True)
class CatchCancel:
    """try: body / except CancelledError: print it, print uncancel() (3.11+) when asked,
    re-raise when asked."""
    body: Tuple[object, ...]
    uncancel: bool
    reraise: bool


@dataclass(frozen=True)
class Schedule:
    """loop.call_soon / call_later / call_at of a callback printing `text` (or raising)."""
    var: str  # the handle
    how: str  # "soon", "later", "at"
    delay: float  # later/at: seconds from now
    text: str
    raises: bool


@dataclass(frozen=True)
class CancelHandle:
    var: str


@dataclass(frozen=True)
class Locked:
    """async with the program's lock: body (body only says and sleeps: no deadlock)."""
    body: Tuple[object, ...]


@dataclass(frozen=True)
class Semaphored:
    """async with the program's semaphore (asyncio.Semaphore(2)): body (says and sleeps)."""
    body: Tuple[object, ...]


@dataclass(frozen=True)
class Notify:
    """async with the program's condition: condition.notify() (or notify_all())."""
    all: bool


@dataclass(frozen=True)
class WaitCondition:
    """async with the program's condition: print(await wait_for(condition.wait(), timeout))."""
    timeout: float
    reraise: bool


@dataclass(frozen=True)
class AsyncFor:
    """async for i in ticks(label, count, delay): print i, break after `stop` when set. ticks,
    the program's async generator, sleeps `delay` before each of its `count` values and prints
    when it ends; one left suspended by a break is closed by the loop's finalizer hook (its
    aclose() in a task of its own), one still running at the end by shutdown_asyncgens."""
    name: str
    count: int
    delay: float
    stop: Optional[int]
    reraise: bool


@dataclass(frozen=True)
class Put:
    value: str


@dataclass(frozen=True)
class Get:
    timeout: float


@dataclass(frozen=True)
class SetEvent:
    pass


@dataclass(frozen=True)
class WaitEvent:
    timeout: float


@dataclass(frozen=True)
class Executor:
    """await loop.run_in_executor(None, time.sleep, delay)."""
    delay: float


@dataclass(frozen=True)
class SetVar:
    value: str


@dataclass(frozen=True)
class GetVar:
    pass


@dataclass(frozen=True)
class NeverAwaited:
    call: Call


@dataclass(frozen=True)
class Cancelling:
    """print the current task's cancelling() (3.11+)."""


@dataclass(frozen=True)
class StopLoop:
    """loop.stop() ("now"), loop.call_soon(loop.stop) ("soon") or loop.call_later(delay,
    loop.stop) ("later"). A program with one runs main by run_forever() until main is done, as
    asyncio.run would run it otherwise (render_python's `run`): each stop returns from
    run_forever after the iteration it ran in, and the program prints that it did."""
    how: str
    delay: float


@dataclass(frozen=True)
class Raise:
    text: str


# -- the program -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Function:
    name: str
    body: Tuple[object, ...]


@dataclass(frozen=True)
class Program:
    seed: int
    floor: Tuple[int, int]  # the oldest Python it runs on
    revision: int  # the generator's
    functions: Tuple[Function, ...]  # callees, then main last
    eager: bool = False  # main installs asyncio.eager_task_factory (3.12+)
    handler: bool = False  # main installs an exception handler that prints

    @property
    def main(self):
        return self.functions[-1]

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


COMPOUND = (Timeout, TaskGroup, CatchCancel, Locked, Semaphored)


def children(statement):
    """The nested body of a compound statement (else ())."""
    return statement.body if isinstance(statement, COMPOUND) else ()


def walk(body):
    """Every statement of a body, nested ones after their parent."""
    for statement in body:
        yield statement
        yield from walk(children(statement))


def runs_forever(program):
    """Whether main runs by run_forever() (the program stops the loop somewhere)."""
    return any(isinstance(s, StopLoop) for f in program.functions for s in walk(f.body))


def size(program):
    """How big a program is, for shrinking: statements plus functions."""
    return sum(1 for f in program.functions for _ in walk(f.body)) + len(program.functions)
