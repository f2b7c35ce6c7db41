"""The example manifest (conformance/manifest.json): it is what conformance/manifest.py generates
from the examples' headers and conformance/seeds.json, every example file is accounted for,
every fenced block of every seed is accounted for once, a bad header is one clear error, and
MANIFEST.md is its current rendering (conformance/manifest_md.py)."""

import io
import json
import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONFORMANCE = os.path.join(ROOT, "conformance")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, CONFORMANCE)
from suite import examples  # noqa: E402
import manifest  # noqa: E402
import manifest_md  # noqa: E402


def load():
    with io.open(os.path.join(CONFORMANCE, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


class ManifestTest(unittest.TestCase):
    def setUp(self):
        self.doc = load()
        self.files = {e.name: e for e in examples.load_all()}
        self.entries = {e["example"]: e for e in self.doc["examples"]}

    def test_every_example_file_has_one_entry_and_every_entry_a_file(self):
        names = [e["example"] for e in self.doc["examples"]]
        self.assertEqual(len(names), len(set(names)), "an example is listed twice")
        self.assertEqual(sorted(self.files), sorted(names))

    def test_planned_examples_do_not_exist_yet(self):
        for planned in self.doc.get("planned", []):
            self.assertNotIn(planned["example"], self.files)

    def test_the_manifest_is_generated_from_the_headers(self):
        self.assertEqual(self.doc, manifest.generate(), "run conformance/manifest.py")
        for name, entry in self.entries.items():
            with self.subTest(example=name):
                if not entry["blocks"]:  # the code is not in the seed: say where it is from
                    self.assertTrue(entry.get("source"))
                if entry.get("fixed_variant_of"):
                    self.assertIn(entry["fixed_variant_of"], self.entries)

    def test_a_bad_header_is_one_error_naming_file_and_line(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "s009_bad.py")
        with open(path, "w") as f:
            f.write("# aioref-example: s009_bad\n"
                    "# seed: 003_x.txt, section \"s\", block four\n"
                    "# shows: x\n# changes: none\n\nprint(1)\n")
        with self.assertRaises(manifest.HeaderError) as caught:
            manifest.example_entry(path)
        self.assertIn("s009_bad.py:2: expected `block N`", str(caught.exception))
        with open(path, "w") as f:
            f.write("# aioref-example: s009_bad\n# shows: x\n# changes: none\n\nprint(1)\n")
        with self.assertRaises(manifest.HeaderError) as caught:
            manifest.example_entry(path)
        self.assertIn("s009_bad.py:1: the header has no `# seed:` line", str(caught.exception))

    def test_every_fenced_block_is_accounted_for_once(self):
        seeds = {s["file"]: s for s in self.doc["seeds"]}
        for seed in self.doc["seeds"]:
            with self.subTest(seed=seed["file"]):
                self.assertEqual([b["index"] for b in seed["blocks"]],
                                 list(range(seed["fenced_blocks"])))
                for block in seed["blocks"]:
                    self.assertNotEqual("example" in block, "not_example" in block, block)
                    if "example" in block:
                        entry = self.entries[block["example"]]
                        self.assertEqual(entry["seed"], seed["file"])
                        self.assertIn(block["index"], entry["blocks"])
                for unfenced in seed.get("unfenced", []):
                    self.assertNotEqual("example" in unfenced, "not_example" in unfenced)
                    if "example" in unfenced:
                        self.assertEqual(self.entries[unfenced["example"]]["seed"], seed["file"])
        for name, entry in self.entries.items():
            if entry["seed"] == "tools/fuzz":  # a promoted fuzz case: no tutorial block
                continue
            seed = seeds[entry["seed"]]
            for index in entry["blocks"]:
                block = seed["blocks"][index]
                self.assertIn(name, (block.get("example"), block.get("fixed_variant")),
                              "%s claims block %d of %s" % (name, index, seed["file"]))

    def test_fenced_block_counts_match_the_seeds(self):
        seeds_dir = os.path.join(ROOT, "..", "shared", "seeds")
        if not os.path.isdir(seeds_dir):
            self.skipTest("no seeds at %s" % seeds_dir)
        for seed in self.doc["seeds"]:
            with io.open(os.path.join(seeds_dir, seed["file"]), encoding="utf-8") as f:
                lines = f.read().split("\n")
            fences = [n + 1 for n, line in enumerate(lines) if line.strip().startswith("```")]
            starts = fences[0::2]
            with self.subTest(seed=seed["file"]):
                self.assertEqual(len(starts), seed["fenced_blocks"])
                self.assertEqual([b["line"] for b in seed["blocks"]], starts)
                for unfenced in seed.get("unfenced", []):
                    self.assertEqual(lines[unfenced["line"] - 1].strip(),
                                     unfenced["first_line"].strip())

    def test_manifest_md_is_the_current_rendering(self):
        with io.open(os.path.join(CONFORMANCE, "MANIFEST.md"), encoding="utf-8") as f:
            self.assertEqual(f.read(), manifest_md.render(self.doc),
                             "run conformance/manifest_md.py")


if __name__ == "__main__":
    unittest.main()
