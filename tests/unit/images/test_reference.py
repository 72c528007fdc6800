import pytest

from agent.images.errors import InvalidReference
from agent.images.reference import parse

D = "sha256:" + "a" * 64

VALID = [
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/ns/app:tag", "localhost:5000/ns/app:tag", "localhost:5000/ns/app:tag"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"),
    ("quay.io/org/sub/app:1.0-rc_1", "quay.io/org/sub/app:1.0-rc_1",
     "quay.io/org/sub/app:1.0-rc_1"),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
    (f"busybox:1.36@{D}", f"docker.io/library/busybox:1.36@{D}", f"busybox:1.36@{D}"),
    ("a__b/c-d.e_f", "docker.io/a__b/c-d.e_f:latest", "a__b/c-d.e_f:latest"),
    ("Registry.Example.COM/app", "Registry.Example.COM/app:latest",
     "Registry.Example.COM/app:latest"),
    ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
]

INVALID = [
    ("", "empty"),
    ("Nginx", "must be lowercase"),
    ("user/App", "must be lowercase"),
    ("nginx:", "invalid tag"),
    ("nginx:-bad", "invalid tag"),
    ("nginx:" + "t" * 129, "invalid tag"),
    ("nginx@sha256:abc", "invalid sha256 digest"),
    ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("nginx@", "invalid digest"),
    ("a" * 64, "looks like an image ID"),
    ("foo//bar", "empty path component"),
    ("foo/bar/", "empty path component"),
    ("-foo", "invalid repository name component"),
    ("foo_-bar", "invalid repository name component"),
    ("host:port/app", "invalid"),
    ("my app", "whitespace"),
    (":tag", "missing repository name"),
    ("ex.com/" + "a" * 260, "longer than 255"),
]


@pytest.mark.parametrize(("text", "full", "familiar"), VALID)
def test_valid(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar
    assert str(parse(full)) == full  # normal form is a fixed point


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_invalid(text, why):
    with pytest.raises(InvalidReference) as ei:
        parse(text)
    assert why in str(ei.value)
    assert repr(text) in str(ei.value)
    assert ei.value.reason == "InvalidImageName"


def test_parts():
    r = parse(f"localhost:5000/a/b:t@{D}")
    assert (r.domain, r.path, r.tag, r.digest) == ("localhost:5000", "a/b", "t", D)
    assert r.remote == D
    assert parse("x").remote == "latest"
    assert r.repository == "localhost:5000/a/b"
