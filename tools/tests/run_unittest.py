"""Runs one unittest module of tools/tests, or its share of the tests when Bazel shards it
(TEST_TOTAL_SHARDS, TEST_SHARD_INDEX: test i runs in shard i mod total)."""

import os
import sys
import unittest


def tests_of(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from tests_of(test)
        else:
            yield test


def main(path):
    sys.path.insert(0, os.getcwd())  # as `python3 -m unittest` does: run from the root
    module = os.path.splitext(path)[0].replace("/", ".")
    every = list(tests_of(unittest.defaultTestLoader.loadTestsFromName(module)))
    total = int(os.environ.get("TEST_TOTAL_SHARDS", "1"))
    index = int(os.environ.get("TEST_SHARD_INDEX", "0"))
    if os.environ.get("TEST_SHARD_STATUS_FILE"):
        open(os.environ["TEST_SHARD_STATUS_FILE"], "w").close()  # sharding understood
    mine = unittest.TestSuite(test for number, test in enumerate(every)
                              if number % total == index)
    result = unittest.TextTestRunner(verbosity=2).run(mine)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
