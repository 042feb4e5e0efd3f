"""Canonical form and digest of a DynamoDB item: the Python twin of handlers/core/item-digest.ts.

The Glue verify job digests items exactly as `ddb-replicate verify` does, so bucket digests computed
on either side compare. test/fixtures/digest-vectors.json, generated from the TypeScript
(test/unit/digest-vectors.test.ts), holds both to the same bytes (test/glue/test_item_digest.py).

Values are in boto3's low-level form (B and BS as bytes); base64 strings (the wire form) are
accepted too. Numbers stay strings: canonical_number works on the digits, never on a float.
"""

import base64
import hashlib
import re
import struct

_NUMBER = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$")
_MOD = 1 << 256


class DigestError(ValueError):
    """An item that cannot be digested (not a DynamoDB number, unknown type, missing key attribute)."""


def canonical_number(value):
    """'1.50' -> '15E-1', '100' and '1E+2' -> '1E2', '-0' -> '0' (as canonicalNumber in TypeScript)."""
    match = _NUMBER.match(value)
    if match is None or (match.group(2) == "" and (match.group(3) or "") == ""):
        raise DigestError("not a DynamoDB number")
    sign, int_part, frac_part, exp_part = match.group(1), match.group(2), match.group(3) or "", match.group(4)
    digits = (int_part + frac_part).lstrip("0")
    if digits == "":
        return "0"
    exponent = (int(exp_part) if exp_part is not None else 0) - len(frac_part)
    trimmed = digits.rstrip("0")
    exponent += len(digits) - len(trimmed)
    return f"{'-' if sign == '-' else ''}{trimmed}E{exponent}"


def _bytes_of(value):
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def _chunk(out, data):
    out += struct.pack(">I", len(data))
    out += data


def _string(out, text):
    _chunk(out, text.encode("utf-8"))


def _value(out, value):
    if "S" in value:
        out += b"S"
        _string(out, value["S"])
    elif "N" in value:
        out += b"N"
        _string(out, canonical_number(value["N"]))
    elif "B" in value:
        out += b"B"
        _chunk(out, _bytes_of(value["B"]))
    elif "BOOL" in value:
        out += b"b" + (b"\x01" if value["BOOL"] else b"\x00")
    elif "NULL" in value:
        out += b"0"
    elif "SS" in value:
        # Python orders str by code point, which is UTF-8 byte order: as compareCodePoints does.
        out += b"s" + struct.pack(">I", len(value["SS"]))
        for item in sorted(value["SS"]):
            _string(out, item)
    elif "NS" in value:
        out += b"n" + struct.pack(">I", len(value["NS"]))
        for item in sorted(canonical_number(n) for n in value["NS"]):
            _string(out, item)
    elif "BS" in value:
        out += b"x" + struct.pack(">I", len(value["BS"]))
        for item in sorted(_bytes_of(b) for b in value["BS"]):
            _chunk(out, item)
    elif "L" in value:
        out += b"L" + struct.pack(">I", len(value["L"]))
        for item in value["L"]:
            _value(out, item)
    elif "M" in value:
        _map(out, value["M"])
    else:
        raise DigestError(f"unknown AttributeValue type {sorted(value)}")


def _map(out, item, names=None):
    names = sorted(item if names is None else names)
    out += b"M" + struct.pack(">I", len(names))
    for name in names:
        if name not in item:
            raise DigestError("item lacks a key attribute")
        _string(out, name)
        _value(out, item[name])


def canonical_item_bytes(item):
    out = bytearray()
    _map(out, item)
    return bytes(out)


def key_names(key_schema):
    """Attribute names of a KeySchema as the config writes it: {"partitionKey": {"name"}, "sortKey"?: {"name"}}."""
    names = [key_schema["partitionKey"]["name"]]
    if key_schema.get("sortKey"):
        names.append(key_schema["sortKey"]["name"])
    return names


def item_digest(item, names):
    """(key_bytes, key_hash, item_hash): the bucket is key_hash % buckets; item_hash goes into its sum."""
    key = bytearray()
    _map(key, item, names)
    key_bytes = bytes(key)
    key_hash = struct.unpack(">I", hashlib.sha256(key_bytes).digest()[:4])[0]
    item_hash = hashlib.sha256(key_bytes + canonical_item_bytes(item)).digest()
    return key_bytes, key_hash, item_hash


def add_to_buckets(digests, buckets, item, names):
    """Adds an item into `digests` (bucket -> int, sum mod 2^256 of item hashes); returns its bucket."""
    _, key_hash, item_hash = item_digest(item, names)
    bucket = key_hash % buckets
    digests[bucket] = (digests.get(bucket, 0) + int.from_bytes(item_hash, "big")) % _MOD
    return bucket


def bucket_hex(total):
    return f"{total:064x}"
