"""Routes the set comprehensions of asyncio's functions, and the sets a program builds,
through the harness's set, which iterates in the run's order.

asyncio builds some of its sets of tasks and futures with comprehensions: as_completed's
`{ensure_future(f) for f in set(fs)}` (every version) and wait's (before 3.11). Those are
builtin sets, whatever the module's global `set` is, and iterate in slot order: the
elements' hashes decide it only where no two of them collide, and where two do, CPython's
probing places the second the same way for any pair of hashes, so no choice of hashes
gives two runs opposite orders with certainty. Recompiled here, each such comprehension is
passed through the module's `set` (the harness's, which iterates in the run's order), so
those sets are perturbed like the ones asyncio builds with `set()`. A program's own set
displays and comprehensions are routed the same way (compile_program).

Only the functions that hold a set comprehension change, and only their code: they keep
their identity, defaults, line numbers and flags (3.6's generator-based coroutines), and
the comprehension itself still runs (its frame shows in a traceback as before).
"""

import ast
import inspect
import types


# The name a program's routed sets are passed through: a builtin of the program's own (see
# compile_program), so that a program that names something `set` is not affected.
PROGRAM_SET = "__aioref_set__"


class _Routed(ast.NodeTransformer):
    def __init__(self, name, displays):
        self.name = name
        self.displays = displays

    def visit_SetComp(self, node):
        return self._route(self.generic_visit(node))

    def visit_Set(self, node):
        node = self.generic_visit(node)
        return self._route(node) if self.displays else node

    def _route(self, node):
        call = ast.Call(func=ast.Name(id=self.name, ctx=ast.Load()), args=[node], keywords=[])
        return ast.copy_location(call, node)


def compile_program(source, path, mode="exec"):
    """A program's code with each of its set comprehensions and displays passed through
    PROGRAM_SET, a builtin the harness gives the program (with `set`) in perturbed runs:
    a program's own sets of tasks and futures iterate in the run's order too."""
    tree = ast.parse(source, path, mode)
    tree = ast.fix_missing_locations(_Routed(PROGRAM_SET, displays=True).visit(tree))
    return compile(tree, path, mode, dont_inherit=True)


def routes(module):
    """[(function, code)]: `module`'s functions and methods that build a set with a
    comprehension, each with its code recompiled so that each such set passes through the
    module's global `set`. Made once, where the runs are forked from; see install."""
    tree = ast.parse(inspect.getsource(module))
    targets = set(_holding_set_comprehensions(tree))
    if not targets:
        return []
    tree = ast.fix_missing_locations(_Routed("set", displays=False).visit(tree))
    compiled = compile(tree, inspect.getsourcefile(module), "exec", dont_inherit=True)
    recompiled = {}
    _collect_codes(compiled, recompiled)
    found = []
    for function in _functions(module):
        if function.__qualname__ not in targets:
            continue
        old = function.__code__
        new = recompiled.get((old.co_name, old.co_firstlineno))
        if new is None or new.co_freevars != old.co_freevars:
            raise RuntimeError("%s.%s: not found as recompiled" % (
                module.__name__, function.__qualname__))
        found.append((function, new))
    if sorted(function.__qualname__ for function, _ in found) != sorted(targets):
        raise RuntimeError("%s: set comprehensions in %s, functions found: %s" % (
            module.__name__, sorted(targets), [function.__qualname__ for function, _ in found]))
    return found


def install(found):
    """Gives each function of `routes` its recompiled code."""
    for function, code in found:
        flags = function.__code__.co_flags
        function.__code__ = code
        if code.co_flags != flags:
            # types.coroutine set CO_ITERABLE_COROUTINE on 3.6's generator-based coroutines.
            types.coroutine(function)


def _holding_set_comprehensions(tree):
    """Qualified names of the module-level functions and methods holding a set comprehension."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            members = [(node.name, node)]
        elif isinstance(node, ast.ClassDef):
            members = [(node.name + "." + item.name, item) for item in node.body
                       if isinstance(item, functions)]
        else:
            continue
        for name, function in members:
            if any(isinstance(inner, ast.SetComp) for inner in ast.walk(function)):
                yield name


def _collect_codes(code, found):
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found.setdefault((constant.co_name, constant.co_firstlineno), constant)
            _collect_codes(constant, found)


def _functions(module):
    """The Python functions defined in `module`: module-level and methods of its classes."""
    for value in list(vars(module).values()):
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield value
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for member in list(vars(value).values()):
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member):
                    yield member
