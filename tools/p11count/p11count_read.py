#!/usr/bin/env python3
"""Reads the counts file of libsimkms-p11count.so (layout: tools/p11count/counts_file.h).

  p11count_read.py COUNTS_FILE                  a snapshot as JSON {"C_Encrypt": 12, ...}
  p11count_read.py --diff BEFORE.json AFTER.json  AFTER - BEFORE of two snapshots (non-zero only)
  p11count_read.py --diff BEFORE.json COUNTS_FILE  the file now, minus an earlier snapshot

Read-only: the module in the counted process keeps incrementing while this reads;
each counter is read whole (8 aligned bytes), which is all a before/after
difference needs. Python 3 standard library only.
"""
import json
import struct
import sys

MAGIC = b"P11COUNT"
VERSION = 1
HEADER = struct.Struct("<8sII")
ENTRY = struct.Struct("<32sQ")


def snapshot(path):
    """The counts of a counts file as {function: count}, in file order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER.size:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a counts file")
    magic, version, entries = HEADER.unpack_from(data, 0)
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"{path}: not a P11COUNT counts file of version {VERSION}")
    if len(data) != HEADER.size + entries * ENTRY.size:
        raise ValueError(f"{path}: {len(data)} bytes for {entries} entries")
    counts = {}
    for i in range(entries):
        name, count = ENTRY.unpack_from(data, HEADER.size + i * ENTRY.size)
        counts[name.rstrip(b"\0").decode("ascii")] = count
    return counts


def load(path):
    """A snapshot: a counts file, or a JSON snapshot this script printed."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
    if head == MAGIC:
        return snapshot(path)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def diff(before, after):
    """after - before, functions whose count changed only."""
    out = {}
    for name, count in after.items():
        d = count - before.get(name, 0)
        if d != 0:
            out[name] = d
    return out


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("-"):
        result = snapshot(argv[1])
    elif len(argv) == 4 and argv[1] == "--diff":
        result = diff(load(argv[2]), load(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, json.JSONDecodeError) as e:
        print(f"p11count_read: {e}", file=sys.stderr)
        sys.exit(1)
