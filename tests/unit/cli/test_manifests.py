from __future__ import annotations

from pathlib import Path

import pytest

from corral.manifests import (
    BadDocument,
    Document,
    ManifestError,
    expand_paths,
    load,
    parse_text,
    split_documents,
)

MULTI = """\
# leading comment
apiVersion: v1
kind: Pod
metadata:
  name: one
---
apiVersion: v1
kind: Pod
metadata:
  name: two
  labels: [unclosed
---
---
apiVersion: v1
kind: Pod
metadata:
  name: three
...
"""


def test_split_documents_keeps_line_numbers() -> None:
    docs = split_documents(MULTI)
    assert [start for start, _ in docs] == [1, 7, 14]


def test_multi_doc_with_a_syntax_error_in_the_middle() -> None:
    items = list(parse_text(MULTI, "m.yaml"))
    assert [type(i) for i in items] == [Document, BadDocument, Document]
    one, bad, three = items
    assert isinstance(one, Document) and one.doc["metadata"]["name"] == "one"
    assert isinstance(three, Document) and three.doc["metadata"]["name"] == "three"
    assert three.index == 3
    assert isinstance(bad, BadDocument)
    assert bad.index == 2
    assert bad.source == "m.yaml"
    assert 11 <= bad.line <= 12          # the flow sequence opened on line 11 never closes
    assert bad.column >= 1
    assert str(bad).startswith(f"m.yaml:{bad.line}:{bad.column}: document 2: YAML syntax error")


def test_error_line_is_absolute_in_the_file() -> None:
    text = "a: 1\n---\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n"
    (bad,) = [i for i in parse_text(text, "f.yaml") if isinstance(i, BadDocument)]
    assert bad.line == 6
    assert str(bad).startswith("f.yaml:6:")


def test_non_mapping_document_and_list_kind() -> None:
    text = "- a\n- b\n---\nkind: List\napiVersion: v1\nitems:\n- kind: Pod\n- kind: Namespace\n"
    items = list(parse_text(text, "x.yaml"))
    assert isinstance(items[0], BadDocument) and "got a list" in items[0].message
    assert [i.doc["kind"] for i in items[1:] if isinstance(i, Document)] == ["Pod", "Namespace"]


def test_json_file() -> None:
    items = list(parse_text('{"apiVersion": "v1", "kind": "Namespace"}', "ns.json"))
    assert isinstance(items[0], Document) and items[0].doc["kind"] == "Namespace"


def test_empty_and_comment_only_documents_are_skipped() -> None:
    assert list(parse_text("# nothing\n---\n\n---\n", "e.yaml")) == []


def test_directories_and_recursion(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("kind: Pod\n")
    (tmp_path / "a.yml").write_text("kind: Pod\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.json").write_text("{}")
    flat = expand_paths([str(tmp_path)])
    assert [Path(p).name for p in flat] == ["a.yml", "b.yaml"]
    deep = expand_paths([str(tmp_path)], recursive=True)
    assert [Path(p).name for p in deep] == ["a.yml", "b.yaml", "c.json"]
    with pytest.raises(ManifestError, match="does not exist"):
        expand_paths([str(tmp_path / "missing.yaml")])
    docs = list(load([str(tmp_path)]))
    assert len(docs) == 2
