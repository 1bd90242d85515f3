#!/usr/bin/python3
"""
Independent reference for tests/unit/common/test_hrw.c (and one msgpack vector used by
test_lso.c). Run with Debian's interpreter:  /usr/bin/python3 tests/unit/common/hrw_vectors.py

HRW as AIStore defines it (core/meta/hrw.go, SDK python/aistore/sdk/utils.py):
  digest(s) = XXH64(s, seed=1103515245)              (cos.MLCG32)
  weight    = xoshiro256_hash(digest(target_id) ^ digest(uname))
  owner     = target with the highest weight

XXH64 comes from Debian's python3-xxhash (the same package the SDK uses) and is cross-checked
against a pure-Python XXH64 below; xoshiro256_hash is the SDK's code verbatim (its constants
and arithmetic), not a translation of our C. The output is C source to paste into the test.
"""
import sys

try:
    import xxhash
except ImportError:  # pure-Python fallback below is then the only reference
    xxhash = None

MASK = 0xFFFFFFFFFFFFFFFF
SEED = 1103515245

# --- pure-Python XXH64 (spec: https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md)
P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
P4 = 0x85EBCA77C2B2AE63
P5 = 0x27D4EB2F165667C5


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK


def _round(acc, lane):
    acc = (acc + lane * P2) & MASK
    acc = _rotl(acc, 31)
    return (acc * P1) & MASK


def _merge(acc, val):
    acc ^= _round(0, val)
    return (acc * P1 + P4) & MASK


def xxh64_py(data: bytes, seed: int) -> int:
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & MASK
        v2 = (seed + P2) & MASK
        v3 = seed & MASK
        v4 = (seed - P1) & MASK
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i : i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8 : i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16 : i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24 : i + 32], "little"))
            i += 32
        acc = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & MASK
        for v in (v1, v2, v3, v4):
            acc = _merge(acc, v)
    else:
        acc = (seed + P5) & MASK
    acc = (acc + n) & MASK
    while i + 8 <= n:
        acc ^= _round(0, int.from_bytes(data[i : i + 8], "little"))
        acc = (_rotl(acc, 27) * P1 + P4) & MASK
        i += 8
    if i + 4 <= n:
        acc ^= (int.from_bytes(data[i : i + 4], "little") * P1) & MASK
        acc = (_rotl(acc, 23) * P2 + P3) & MASK
        i += 4
    while i < n:
        acc ^= (data[i] * P5) & MASK
        acc = (_rotl(acc, 11) * P1) & MASK
        i += 1
    acc ^= acc >> 33
    acc = (acc * P2) & MASK
    acc ^= acc >> 29
    acc = (acc * P3) & MASK
    acc ^= acc >> 32
    return acc


def digest(s: str) -> int:
    b = s.encode("utf-8")
    d = xxh64_py(b, SEED)
    if xxhash is not None:
        ref = xxhash.xxh64(seed=SEED, input=b).intdigest()  # what the SDK's get_digest does
        assert d == ref, (s, hex(d), hex(ref))
    return d


# --- SDK python/aistore/sdk/utils.py::xoshiro256_hash, verbatim arithmetic
GOLDEN_RATIO = 0x9E3779B97F4A7C15
CONST1 = 0xBF58476D1CE4E5B9
CONST2 = 0x94D049BB133111EB
ROTATION_BITS = 7


def xoshiro256_hash(seed: int) -> int:
    z = (seed + GOLDEN_RATIO) & MASK
    z = (z ^ (z >> 30)) * CONST1 & MASK
    z = (z ^ (z >> 27)) * CONST2 & MASK
    z = (z ^ (z >> 31)) + GOLDEN_RATIO & MASK
    z = (z ^ (z >> 30)) * CONST1 & MASK
    z = (z ^ (z >> 27)) * CONST2 & MASK
    z = (z ^ (z >> 31)) * 5 & MASK
    rotated = ((z << ROTATION_BITS) | (z >> (64 - ROTATION_BITS))) & MASK
    return (rotated * 9) & MASK


def owner(target_ids, uname):
    d = digest(uname)
    best, best_w = -1, -1
    for i, t in enumerate(target_ids):
        w = xoshiro256_hash(digest(t) ^ d)
        if w > best_w:  # first one wins a (practically impossible) tie
            best, best_w = i, w
    return best


def c_str(s: str) -> str:
    out = []
    for ch in s.encode("utf-8"):
        if ch == 0x22 or ch == 0x5C:
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append("\\%03o" % ch)  # octal: at most 3 digits, never greedy
    return '"' + "".join(out) + '"'


DIGEST_STRINGS = [
    "",
    "a",
    "abc",
    "t1",
    "ais/@#/bck/obj",
    "ais/@#/my-bucket/audio/raw/file.wav",
    "你好世界",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~",
]
XOSHIRO_INPUTS = [0, 1, 0xDEADBEEF, 1103515245, 0x0123456789ABCDEF, MASK]
TARGETS_3 = ["tAbCdEf", "tGhIjKl", "tMnOpQr"]
TARGETS_10 = ["t%d-%s" % (i, "xyzzy"[: 1 + i % 5]) for i in range(10)]
UNAMES = [
    "ais/@#/bck/obj",
    "ais/@#/bck/obj-0",
    "ais/@#/bck/obj-1",
    "ais/@#/bck/obj-2",
    "ais/@#/bck/obj-3",
    "ais/@#/bck/obj-4",
    "ais/@#/test-bck/audio/raw/file.wav",
    "ais/@#/test-bck/file_#@!$%^&*()_+.mp3",
    "ais/@#/test-bck/你好世界",
    "ais/@#/test-bck/track?name=lofi&v=1",
    "ais/@#/b/%25",
    "ais/@#/b/.audio_hidden.wav",
]


def main():
    p = print
    p("/* Generated by tests/unit/common/hrw_vectors.py (/usr/bin/python3, python3-xxhash %s"
      % (xxhash.VERSION if xxhash else "absent"))
    p(" * cross-checked with a pure-Python XXH64; xoshiro256_hash copied from the AIStore SDK). */")
    p("static const struct {\n    const char *s;\n    uint64_t digest;\n} digest_vectors[] = {")
    for s in DIGEST_STRINGS:
        p("    {%s, 0x%016xULL}," % (c_str(s), digest(s)))
    p("};\n")
    p("static const struct {\n    uint64_t in, out;\n} xoshiro_vectors[] = {")
    for x in XOSHIRO_INPUTS:
        p("    {0x%016xULL, 0x%016xULL}," % (x, xoshiro256_hash(x)))
    p("};\n")
    for name, tids in (("targets3", TARGETS_3), ("targets10", TARGETS_10)):
        p("static const char *const %s[] = {%s};" % (name, ", ".join(c_str(t) for t in tids)))
    p("")
    p("static const struct {\n    const char *uname;\n    int owner3, owner10;\n} owner_vectors[] = {")
    for u in UNAMES:
        p("    {%s, %d, %d}," % (c_str(u), owner(TARGETS_3, u), owner(TARGETS_10, u)))
    p("};")

    # msgpack cross-check of the hand-computed page in test_lso.c
    try:
        import msgpack

        page = {
            "UUID": "u1",
            "ContinuationToken": "",
            "Entries": [{"n": "obj1", "cs": "abc", "s": 12, "f": 64}],
            "Flags": 0,
        }
        b = msgpack.packb(page, use_bin_type=True)
        p("\n/* test_lso.c one-entry page, msgpack %s: */" % ".".join(map(str, msgpack.version)))
        p("/* " + " ".join("%02x" % c for c in b) + " */")
    except ImportError:
        print("/* python3-msgpack absent: lso vector not cross-checked */")
    return 0


if __name__ == "__main__":
    sys.exit(main())
