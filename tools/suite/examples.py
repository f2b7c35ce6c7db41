"""The conformance examples: conformance/examples/*.py and their metadata headers."""

import os

from suite import paths


class Example(object):
    def __init__(self, name, path, metadata):
        self.name = name
        self.path = path
        self.metadata = metadata  # the "# key: value" header lines


def read_metadata(path):
    metadata = {}
    with open(path, encoding="utf-8") as source:
        for line in source:
            if not line.startswith("# "):
                break
            key, sep, value = line[2:].partition(":")
            if sep:
                metadata[key.strip()] = value.strip()
    return metadata


def from_file(path):
    """Any program as an example, named after its file."""
    path = os.path.abspath(path)
    return Example(os.path.splitext(os.path.basename(path))[0], path, read_metadata(path))


def load_all(directory=paths.EXAMPLES):
    found = []
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".py") and not entry.startswith("_"):
            path = os.path.join(directory, entry)
            found.append(Example(entry[:-3], path, read_metadata(path)))
    return found


def select(names, directory=paths.EXAMPLES):
    """(the named examples, or all when none is named; messages for unknown names)."""
    everything = load_all(directory)
    if not names:
        return everything, []
    by_name = {example.name: example for example in everything}
    chosen, unknown = [], []
    for name in names:
        if name.endswith(".py"):
            name = os.path.basename(name)[:-3]
        if name in by_name:
            chosen.append(by_name[name])
        else:
            close = [known for known in sorted(by_name) if name in known or known in name]
            unknown.append("unknown example %r: no file %s.py in %s%s" % (
                name, name, directory, " (did you mean %s?)" % ", ".join(close[:3])
                if close else ""))
    return chosen, unknown
