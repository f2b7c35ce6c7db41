"""Reading the suite's text inputs (traces, goldens, expected files): UTF-8, newlines as
open() reads them, and a byte that is not UTF-8 reported at its line (a UnicodeDecodeError
names neither the file nor the line)."""


def read(path, error):
    """The text of `path`; raises error(line, message) where it is not UTF-8. OSError
    propagates (its message names the file)."""
    with open(path, "rb") as source:
        data = source.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        before = _universal_newlines(data[:bad.start].decode("utf-8"))
        line_start = before.rfind("\n") + 1
        raise error(before.count("\n") + 1, "expected UTF-8 text, got byte 0x%02x at column %d"
                    % (data[bad.start], len(before) - line_start + 1))
    return _universal_newlines(text)


def _universal_newlines(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")
