#!/usr/bin/env python3
"""Reads TOML documents with Python's tomllib (the reference) for regiond's differential test.

Input on stdin: a JSON array of documents (strings). Output on stdout: a JSON array with,
for each document, {"ok": true, "value": TAGGED} or {"ok": false, "error": "..."}.
TAGGED keeps the types JSON would blur: {"s": str}, {"i": "123"}, {"f": float.hex()},
{"b": bool}, {"a": [...]}, {"t": {key: TAGGED}}, {"d": isoformat} for dates and times.
"""
import datetime
import json
import math
import sys
import tomllib


def tag(value):
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"f": "nan"}
        return {"f": value.hex()}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, list):
        return {"a": [tag(v) for v in value]}
    if isinstance(value, dict):
        return {"t": {k: tag(v) for k, v in value.items()}}
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return {"d": value.isoformat()}
    raise TypeError(type(value))


def main():
    out = []
    for text in json.load(sys.stdin):
        try:
            out.append({"ok": True, "value": tag(tomllib.loads(text))})
        except tomllib.TOMLDecodeError as error:
            out.append({"ok": False, "error": str(error)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
