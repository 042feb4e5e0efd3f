"""infra/glue/item_digest.py against the vectors generated from the TypeScript (test/fixtures/digest-vectors.json).

Run: /usr/bin/python3 -m unittest discover -s test/glue -v (test/integration/glue-script.test.ts runs it under `npm test`).
"""

import base64
import json
import sys
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra" / "glue"))

import item_digest as d  # noqa: E402

VECTORS = json.loads((REPO / "test" / "fixtures" / "digest-vectors.json").read_text(encoding="utf-8"))
NAMES = d.key_names(VECTORS["keySchema"])


def boto_form(value):
    """Wire form (binary as base64) -> boto3's low-level form (binary as bytes), recursively."""
    if "B" in value:
        return {"B": base64.b64decode(value["B"])}
    if "BS" in value:
        return {"BS": [base64.b64decode(b) for b in value["BS"]]}
    if "M" in value:
        return {"M": {k: boto_form(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [boto_form(v) for v in value["L"]]}
    return value


class DigestVectorTests(unittest.TestCase):
    def test_canonical_bytes_and_hashes_equal_typescript(self):
        self.assertGreaterEqual(len(VECTORS["items"]), 5)
        for vector in VECTORS["items"]:
            for form, item in (("wire", vector["item"]), ("boto3", {k: boto_form(v) for k, v in vector["item"].items()})):
                with self.subTest(vector["name"], form=form):
                    self.assertEqual(d.canonical_item_bytes(item).hex(), vector["canonicalHex"])
                    _, key_hash, item_hash = d.item_digest(item, NAMES)
                    self.assertEqual(key_hash, vector["keyHash"])
                    self.assertEqual(item_hash.hex(), vector["itemHash"])

    def test_bucket_digests_equal_typescript(self):
        buckets = VECTORS["buckets"]
        digests = {}
        for item in reversed(buckets["items"]):  # any order: the sum does not care
            d.add_to_buckets(digests, buckets["count"], item, NAMES)
        self.assertEqual([d.bucket_hex(digests.get(b, 0)) for b in range(buckets["count"])], buckets["digests"])

    def test_number_spellings(self):
        for a, b in (("1.50", "1.5"), ("1E+2", "100"), ("-0", "0"), ("0.000", "0"), ("-1.0e1", "-10")):
            with self.subTest(a):
                self.assertEqual(d.canonical_number(a), d.canonical_number(b))
        self.assertNotEqual(d.canonical_number("1.5"), d.canonical_number("1.50001"))
        with self.assertRaises(d.DigestError):
            d.canonical_number("1.2.3")

    def test_a_missing_key_attribute_is_refused(self):
        with self.assertRaisesRegex(d.DigestError, "lacks a key attribute"):
            d.item_digest({"pk": {"S": "a"}}, NAMES)


if __name__ == "__main__":
    unittest.main()
