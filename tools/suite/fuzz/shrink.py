"""Shrinking: a diverging program reduced to the smallest that still diverges the same way.

Greedy, over the representation: candidates one step smaller (drop a function with every
use of it, drop a run of statements (halves first, then quarters, ..., then one), put a compound statement's body in its place, shorten a sleep
or a timeout, drop an item of a list, turn off a flag) are tried in that order, a batch at a
time through the oracle; the first that still diverges with the same signature (the loops,
Pythons, statuses and kinds of the first differing lines) replaces the program, and the
search starts again, until no candidate diverges or the budget of candidates is spent.

Each candidate is repaired before it is tried: a statement that refers to a task, handle or
function no longer defined where it is loses that reference (or goes, when nothing is left),
so every candidate is a program the generator could have written.
"""

import dataclasses

from suite.fuzz import generate, program as ir, render_python

SMALLER_DELAYS = sorted(set(d for d in generate.SLEEPS + generate.TIMEOUTS if d is not None))


def _smaller(value):
    """Shorter values for a sleep or timeout, shortest first."""
    return [d for d in SMALLER_DELAYS if d < value]


def _statement_variants(s):
    """The statement one step simpler (nested bodies included)."""
    if isinstance(s, ir.COMPOUND):
        for body in _body_variants(s.body):
            yield dataclasses.replace(s, body=body)
    if isinstance(s, ir.Sleep):
        for delay in _smaller(s.delay):
            yield ir.Sleep(delay)
    for field in ("timeout", "delay"):
        value = getattr(s, field, None)
        if isinstance(s, ir.Sleep) or value is None:
            continue
        if isinstance(s, (ir.Wait, ir.WaitFor, ir.Shield, ir.AsCompleted, ir.Timeout)):
            yield dataclasses.replace(s, **{field: None})
        for shorter in _smaller(value):
            yield dataclasses.replace(s, **{field: shorter})
    for field in ("items", "vars", "calls"):
        values = getattr(s, field, None)
        if values and len(values) > 1 or field == "calls" and values:
            for index in range(len(values)):
                yield dataclasses.replace(s, **{field: values[:index] + values[index + 1:]})
    if isinstance(s, ir.AsyncFor) and s.count > 1:
        stop = None if s.stop is None else min(s.stop, s.count - 2)
        yield dataclasses.replace(s, count=s.count - 1, stop=stop)
    for field, simpler in (("reraise", False), ("return_exceptions", False), ("message", None),
                           ("uncancel", False), ("raises", False), ("stop", None), ("all", False),
                           ("return_when", "ALL_COMPLETED")):
        if hasattr(s, field) and getattr(s, field) != simpler:
            yield dataclasses.replace(s, **{field: simpler})


def _body_variants(body):
    # Drops first, as delta debugging does: halves, quarters, ..., then single statements.
    size = len(body) // 2
    while size > 1:
        for start in range(0, len(body), size):
            yield body[:start] + body[start + size:]
        size //= 2
    for index in range(len(body)):
        yield body[:index] + body[index + 1:]
    for index, s in enumerate(body):
        if ir.children(s):
            yield body[:index] + ir.children(s) + body[index + 1:]
    for index, s in enumerate(body):
        for simpler in _statement_variants(s):
            yield body[:index] + (simpler,) + body[index + 1:]


def candidates(program):
    """Programs one step smaller than `program`, repaired, biggest reductions first."""
    functions = program.functions
    for index, function in enumerate(functions[:-1]):
        yield repair(program.replace(functions=functions[:index] + functions[index + 1:]))
    for flag in ("eager", "handler"):
        if getattr(program, flag):
            yield program.replace(**{flag: False})
    for index, function in enumerate(functions):
        for body in _body_variants(function.body):
            changed = dataclasses.replace(function, body=body)
            yield repair(program.replace(
                functions=functions[:index] + (changed,) + functions[index + 1:]))


def repair(program):
    """Every reference to a function, task or handle that is not defined where it is used
    removed (statements left with nothing to refer to removed)."""
    names = {f.name for f in program.functions}
    functions = tuple(dataclasses.replace(f, body=_repair_body(f.body, names, set()))
                      for f in program.functions)
    return program.replace(functions=functions)


def _repair_body(body, functions, defined):
    out = []
    for s in body:
        s = _repair_statement(s, functions, defined)
        if s is not None:
            out.append(s)
            if isinstance(s, (ir.Spawn, ir.Schedule)):
                defined.add(s.var)
    return tuple(out)


def _known(what, functions, defined):
    if isinstance(what, ir.Task):
        return what.var in defined
    return what.func in functions


def _repair_statement(s, functions, defined):
    if isinstance(s, ir.COMPOUND):
        # Names made inside a nested body stay inside it (it may not run to the end).
        s = dataclasses.replace(s, body=_repair_body(s.body, functions, set(defined)))
    if isinstance(s, (ir.Spawn, ir.NeverAwaited)):
        return s if s.call.func in functions else None
    if isinstance(s, (ir.Await, ir.WaitFor)):
        return s if _known(s.what, functions, defined) else None
    if isinstance(s, (ir.Cancel, ir.Shield, ir.CancelHandle)):
        return s if s.var in defined else None
    if isinstance(s, ir.Gather):
        items = tuple(i for i in s.items if _known(i, functions, defined))
        return dataclasses.replace(s, items=items) if items else None
    if isinstance(s, (ir.Wait, ir.AsCompleted)):
        kept = tuple(v for v in s.vars if v in defined)
        return dataclasses.replace(s, vars=kept) if kept else None
    if isinstance(s, ir.TaskGroup):
        return dataclasses.replace(s, calls=tuple(c for c in s.calls if c.func in functions))
    return s


class Shrinker(object):
    """Shrinks with `diverges(programs) -> [signature or None]` (one oracle batch)."""

    def __init__(self, diverges, batch=8, budget=300):
        self.diverges = diverges
        self.batch = batch
        self.budget = budget  # candidates tried at most
        self.tried = 0
        self.steps = 0

    def shrink(self, program, signature):
        seen = {render_python.render(program)}
        while self.tried < self.budget:
            smaller, batch = None, []
            for candidate in candidates(program):
                text = render_python.render(candidate)
                if text in seen:
                    continue
                seen.add(text)
                batch.append(candidate)
                if len(batch) == self.batch:
                    smaller, batch = self._first_diverging(batch, signature), []
                    if smaller is not None or self.tried >= self.budget:
                        break
            else:
                if batch:
                    smaller = self._first_diverging(batch, signature)
            if smaller is None:
                return program
            program = smaller
            self.steps += 1
        return program

    def _first_diverging(self, batch, signature):
        self.tried += len(batch)
        for candidate, found in zip(batch, self.diverges(batch)):
            if found == signature:
                return candidate
        return None
