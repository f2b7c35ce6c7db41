"""Records an asyncio program's observable trace (see conformance/TRACE_FORMAT.md).

Runs inside the interpreter under test (Python 3.6+): replaces sys.stdout and sys.stderr
with line recorders, hooks warnings and the `asyncio` logger, and formats tracebacks keeping
only the example's own frames (the complete ones, the loop's frames included, go to a debug
file for the report). Every event is written at once with os.write, so nothing is lost if
the process dies, and nothing depends on module globals during finalization. A run's events
are bounded (max_output): past it, one line says where they were cut.
"""

import io
import logging
import os
import re
import sys
import traceback
import warnings

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# What reprlib leaves of an address when it shortens a repr to its two ends (asyncio's
# handle and callback reprs): the last hex digits after its "...", up to the object's ">".
_ADDRESS_TAIL = re.compile(r"(?<=\.\.\.)(?:0?x)?[0-9a-fA-F]+(?=>)")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s'\"<>:()\[\],]+)+/([^\s'\"<>:()\[\],/]+)")
_PY_LINE = re.compile(r"\.py:\d+")
_PY_LINE_WORD = re.compile(r'(\.py"?), line \d+')
# A loopback address tuple as repr() prints it: the port is ephemeral (bound to port 0).
_LOOPBACK_PORT = re.compile(r"\('127\.0\.0\.1', \d+\)")


def normalize(text):
    """Make a line independent of paths, line numbers, addresses and ephemeral ports."""
    text = _PATH.sub(r"\1", text)
    text = _PY_LINE.sub(".py", text)
    text = _PY_LINE_WORD.sub(r"\1", text)
    text = _LOOPBACK_PORT.sub("('127.0.0.1', PORT)", text)
    return _ADDRESS_TAIL.sub("0x?", _ADDRESS.sub("0x?", text))


def escape(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


class Recorder(object):
    def __init__(self, fd, clock, start, example_path, rewrite=None, max_output=None,
                 debug_fd=None):
        self.fd = fd
        self.rewrite = rewrite  # clock readings in texts into the trace's frame (see callers)
        self.clock = clock
        self.start = start
        self.example_path = os.path.abspath(example_path)
        self.outcome_written = False
        self.noted = set()  # the header notes written (note)
        # A run's trace is bounded: past `max_output` bytes of events, one "# output-cut"
        # line says where, and the rest is dropped (the outcome is still written).
        self.max_output = max_output
        self.written = 0
        self.events = 0
        # Where complete tracebacks go (the loop's own frames included: the trace keeps
        # only the example's, which is what is compared), for the report.
        self.debug_fd = debug_fd
        self.debug_written = 0

    def note(self, key, value, once=True):
        """Mark the trace with a header line `# key: value` (once: the first time only)."""
        if key not in self.noted or not once:
            self.noted.add(key)
            os.write(self.fd, ("# %s: %s\n" % (key, value)).encode())

    def note_set_order(self):
        """Mark the trace: set iteration order may have decided something in this run."""
        self.note("set-order", "used")

    def note_wake_tie(self, count):
        """Mark the trace: `count` threads' wake-ups so far were due at the moment of a loop
        timer (virtual_clock.WAKE_OFFSETS); the last such line is the run's count."""
        self.note("wake-ties", count, once=False)

    def stamp(self):
        return "%.6f" % (self.clock.now - self.start)

    def event(self, kind, text, stamp=None):
        if self.max_output is not None and self.written > self.max_output:
            return  # cut: not even formatted (a run may print gigabytes)
        if self.rewrite is not None:
            text = self.rewrite(text)
        line = "%s %s %s\n" % (stamp or self.stamp(), kind, escape(normalize(text)))
        data = line.encode("utf-8", "backslashreplace")
        if self.max_output is not None and self.written + len(data) > self.max_output:
            if self.written <= self.max_output:
                self.written = self.max_output + 1
                os.write(self.fd, ("# output-cut: after %d events (line %d of the trace): "
                                   "the run printed more than %d bytes\n"
                                   % (self.events, self.events + 1, self.max_output)).encode())
            return
        self.written += len(data)
        self.events += 1
        os.write(self.fd, data)

    def outcome(self, text):
        if not self.outcome_written:
            self.outcome_written = True
            os.write(self.fd, ("= %s\n" % escape(normalize(text))).encode("utf-8"))

    # -- tracebacks ---------------------------------------------------------------------
    def exception_lines(self, exc_type, exc, tb, head_kind):
        """(kind, text) pairs for an exception, chained like traceback.print_exception."""
        chain = []
        seen = set()
        value = exc
        while value is not None and id(value) not in seen:
            seen.add(id(value))
            chain.append(value)
            if value.__cause__ is not None:
                value = value.__cause__
            elif value.__context__ is not None and not value.__suppress_context__:
                value = value.__context__
            else:
                value = None
        self.debug(traceback.format_exception(exc_type, exc, tb))
        lines = []
        for index, value in enumerate(reversed(chain)):
            if index:
                cause = chain[len(chain) - index].__cause__ is value
                lines.append((head_kind, ""))
                lines.append((head_kind, "The above exception was the direct cause of the "
                              "following exception:" if cause else
                              "During handling of the above exception, another exception "
                              "occurred:"))
                lines.append((head_kind, ""))
            value_tb = tb if value is exc else value.__traceback__
            frames = traceback.extract_tb(value_tb) if value_tb is not None else []
            if frames:
                lines.append((head_kind, "Traceback (most recent call last):"))
            for frame in frames:
                if os.path.abspath(frame.filename) != self.example_path:
                    continue  # loop internals differ between implementations
                lines.append(("tb", 'File "%s", in %s' % (os.path.basename(frame.filename),
                                                          frame.name)))
                if frame.line:
                    lines.append(("tb", "    " + frame.line.strip()))
            for text in traceback.format_exception_only(type(value), value):
                for part in text.rstrip("\n").split("\n"):
                    lines.append((head_kind, part))
        return lines

    DEBUG_LIMIT = 64 * 1024

    def debug(self, chunks):
        """Complete tracebacks into the debug file (its first DEBUG_LIMIT bytes)."""
        if self.debug_fd is None or self.debug_written > self.DEBUG_LIMIT:
            return
        data = "".join(chunks).encode("utf-8", "backslashreplace")
        self.debug_written += len(data)
        os.write(self.debug_fd, data[:self.DEBUG_LIMIT])

    def uncaught(self, exc_type, exc, tb):
        for kind, text in self.exception_lines(exc_type, exc, tb, "err"):
            self.event(kind, text)
        self.outcome("exception " + traceback.format_exception_only(exc_type, exc)[-1].strip())


class LineStream(io.TextIOBase):
    """A text stream that records each complete line as one event."""

    def __init__(self, recorder, kind, name):
        self._recorder = recorder
        self._kind = kind
        self._name = name
        self._pending = ""
        self._stamp = None

    @property
    def encoding(self):
        return "utf-8"

    @property
    def name(self):
        return self._name

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if self.closed:  # as sys.stdout once a program closed it
            raise ValueError("I/O operation on closed file.")
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if text and self._stamp is None:
            self._stamp = self._recorder.stamp()
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._recorder.event(self._kind, line, self._stamp)
            self._stamp = self._recorder.stamp() if self._pending else None
        return len(text)

    def flush(self):
        pass

    def finish(self):
        if self._pending:
            self._recorder.event(self._kind, self._pending + "\\", self._stamp)
            self._pending = ""
            self._stamp = None


class AsyncioLogHandler(logging.Handler):
    def __init__(self, recorder):
        logging.Handler.__init__(self)
        self._recorder = recorder

    def emit(self, record):
        recorder = self._recorder
        lines = record.getMessage().split("\n")
        recorder.event("log", "%s %s" % (record.levelname, lines[0]))
        for line in lines[1:]:
            recorder.event("log", line)
        if record.exc_info and record.exc_info[1] is not None:
            for kind, text in recorder.exception_lines(*record.exc_info, head_kind="log"):
                recorder.event(kind, text)


def install(recorder):
    stdout = LineStream(recorder, "out", "<stdout>")
    stderr = LineStream(recorder, "err", "<stderr>")
    sys.stdout = stdout
    sys.stderr = stderr

    def showwarning(message, category, filename, lineno, file=None, line=None):
        recorder.event("warn", "%s: %s" % (category.__name__, message))

    warnings.showwarning = showwarning
    logger = logging.getLogger("asyncio")
    logger.addHandler(AsyncioLogHandler(recorder))
    logger.propagate = False
    return stdout, stderr
