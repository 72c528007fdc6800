#!/usr/bin/env python3
"""Write proto/descriptions.json from the comments of proto/*.proto (run by genproto.sh).

    python -m grpc_tools.protoc -I . --include_source_info --descriptor_set_out=all.pb proto/*.proto
    scripts/protodocs.py all.pb > proto/descriptions.json

A message's or field's leading comment (the `//` lines right above it) is its
description, and a trailing comment on the same line is added to it; comments set
apart by a blank line are notes for the reader of the .proto, not descriptions, and
so is a line that names a range of field numbers ("Services and DNS (100-119)"). The
JSON maps a message's full name to {"": its description, field name: description}
(proto/descriptions.py reads it: the OpenAPI documents, `kubectl explain`,
`corral explain`). The wire messages (package corral.kubepb) are left out.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from google.protobuf import descriptor_pb2

MESSAGE_TYPE, FIELD, NESTED_TYPE = 4, 2, 3     # FileDescriptorProto / DescriptorProto tags
SKIP_PACKAGES = ("corral.kubepb",)
# "Services and DNS (100-119)": a team's range of field numbers, not a description
SECTION = re.compile(r"^[A-Za-z][\w /+.&-]*\(\d+-\d+\)")


def _text(loc: Any) -> str:
    parts = [loc.leading_comments, loc.trailing_comments]
    lines = [ln.strip() for part in parts for ln in part.strip().splitlines()]
    return " ".join(ln for ln in lines if ln and not SECTION.match(ln))


def _messages(prefix: str, path: tuple[int, ...], messages: Any,
              comments: dict[tuple[int, ...], str], out: dict[str, dict[str, str]]) -> None:
    for i, msg in enumerate(messages):
        mpath = (*path, i)
        name = f"{prefix}.{msg.name}"
        docs: dict[str, str] = {}
        if comments.get(mpath):
            docs[""] = comments[mpath]
        for j, field in enumerate(msg.field):
            text = comments.get((*mpath, FIELD, j))
            if text:
                docs[field.name] = text
        if docs:
            out[name] = docs
        _messages(name, (*mpath, NESTED_TYPE), msg.nested_type, comments, out)


def main(path: str) -> int:
    files = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        files.ParseFromString(f.read())
    out: dict[str, dict[str, str]] = {}
    for fd in files.file:
        if fd.package in SKIP_PACKAGES:
            continue
        comments = {tuple(loc.path): _text(loc) for loc in fd.source_code_info.location}
        _messages(fd.package, (MESSAGE_TYPE,), fd.message_type, comments, out)
    json.dump(dict(sorted(out.items())), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
