"""Where things are in the repository."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "conformance", "examples")
HARNESS = os.path.join(ROOT, "conformance", "harness")
GOLDEN = os.path.join(ROOT, "golden")
GOLDEN_REALTIME = os.path.join(ROOT, "golden-realtime")
EXPECTED = os.path.join(ROOT, "conformance", "expected")
