from __future__ import annotations

import io
from pathlib import Path

import pytest

from corral import config
from corral.cli.common import CliError, parse_duration, parse_targets
from corral.cli.main import build_parser, parse_args, run


def test_parse_targets_forms() -> None:
    t = parse_targets(["po"])
    assert [(x.kind.resource, x.names) for x in t] == [("pods", [])]
    t = parse_targets(["pods", "a", "b"])
    assert [(x.kind.resource, x.names) for x in t] == [("pods", ["a", "b"])]
    t = parse_targets(["pods/a", "deploy/web", "po/b"])
    assert [(x.kind.resource, x.names) for x in t] == [("pods", ["a", "b"]),
                                                       ("deployments", ["web"])]
    t = parse_targets(["po,deploy", "web"])
    assert [(x.kind.resource, x.names) for x in t] == [("pods", ["web"]),
                                                       ("deployments", ["web"])]
    t = parse_targets(["all"])
    # kubectl's "all": pods, services, daemonsets, deployments, replicasets, statefulsets,
    # jobs, cronjobs
    assert [x.kind.resource for x in t] == ["pods", "services", "daemonsets", "deployments",
                                            "replicasets", "statefulsets", "jobs", "cronjobs"]
    assert parse_targets(["deployments.apps"])[0].kind.resource == "deployments"
    for short, full in (("no", "nodes"), ("ns", "namespaces"), ("ev", "events"),
                        ("rs", "replicasets"), ("Pod", "pods")):
        assert parse_targets([short])[0].kind.resource == full


def test_parse_targets_errors() -> None:
    with pytest.raises(CliError, match="You must specify the type of resource"):
        parse_targets([])
    with pytest.raises(CliError, match="doesn't have a resource type \"foos\""):
        parse_targets(["foos"])
    with pytest.raises(CliError, match="no need to specify a resource type"):
        parse_targets(["pods", "pods/web"])


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0), ("10", 10), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("", 0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(CliError):
        parse_duration("5 minutes")


def test_global_flags_before_or_after_the_verb() -> None:
    p = build_parser()
    a = parse_args(p, ["-n", "dev", "get", "pods"])
    b = parse_args(p, ["get", "pods", "-n", "dev", "--server", "h:1"])
    assert a.namespace == b.namespace == "dev"
    assert b.server == "h:1"
    assert a.resources == b.resources == ["pods"]


def test_exec_command_after_double_dash_keeps_its_options() -> None:
    p = build_parser()
    a = parse_args(p, ["exec", "-it", "web", "-c", "side", "--", "ls", "-l", "-c", "x"])
    assert (a.pod, a.container, a.stdin, a.tty) == ("web", "side", True, True)
    assert a.command == ["ls", "-l", "-c", "x"]


@pytest.mark.parametrize("verb", [
    "apply", "create", "get", "describe", "delete", "logs", "exec", "scale", "cordon",
    "uncordon", "drain", "version", "api-resources", "explain", "completion", "label",
    "annotate", "top", "rollout", "set", "image", "config", "edit", "patch", "replace", "diff",
    "wait", "events", "cp", "taint",
])
def test_every_verb_has_help_with_an_example(verb: str, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    with pytest.raises(SystemExit) as e:
        run([verb, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: corral " + verb)
    assert "examples:" in out and f"corral {verb}" in out.split("examples:")[1]


def test_config_file_contexts_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    path = tmp_path / "config"
    path.write_text(
        "current-context: prod\n"
        "contexts:\n"
        "- name: local\n  server: 127.0.0.1:7000\n"
        "- name: prod\n  server: 10.0.0.1:6445\n  namespace: web\n"
        "  certificate-authority-data: '-----BEGIN CERTIFICATE-----\\nabc'\n"
    )
    monkeypatch.delenv("CORRAL_SERVER", raising=False)
    cfg = config.load(path)
    s = config.resolve(cfg)
    assert (s.server, s.namespace) == ("10.0.0.1:6445", "web")
    assert s.credentials is not None and s.credentials.ca_cert is not None
    assert config.resolve(cfg, context="local").server == "127.0.0.1:7000"
    assert config.resolve(cfg, context="local").namespace == "default"
    monkeypatch.setenv("CORRAL_SERVER", "env:1")
    assert config.resolve(cfg).server == "env:1"
    assert config.resolve(cfg, server="flag:2", namespace="x").server == "flag:2"
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.resolve(cfg, context="nope")


def test_missing_default_config_means_defaults(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_CONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("CORRAL_SERVER", raising=False)
    s = config.resolve(config.load())
    assert (s.server, s.namespace, s.credentials) == ("127.0.0.1:6445", "default", None)


def test_config_unknown_field_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("contexts:\n- name: a\n  sever: x\n")
    with pytest.raises(config.ConfigError, match='unknown field "sever"'):
        config.load(path)


def test_config_set_and_use_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_CONFIG", str(tmp_path / "cfg"))
    out = io.StringIO()
    assert run(["config", "set-context", "lab", "--server", "1.2.3.4:6445", "-n", "dev"],
               out=out) == 0
    assert run(["config", "use-context", "lab"], out=out) == 0
    cfg = config.load()
    assert cfg.current_context == "lab"
    assert cfg.contexts["lab"].server == "1.2.3.4:6445"
    assert cfg.contexts["lab"].namespace == "dev"


def test_unknown_output_format_exits_1() -> None:
    err = io.StringIO()
    assert run(["--server", "127.0.0.1:1", "get", "pods", "-o", "yml"], err=err) == 1
    assert 'unable to match a printer suitable for the output format "yml"' in err.getvalue()


@pytest.mark.parametrize(("argv", "message"), [
    (["frobnicate"], 'unknown command "frobnicate" for "corral"'),
    (["get", "pods", "--bogus"], "unknown flag: --bogus"),
    (["rollout", "status"], "the following arguments are required"),
])
def test_usage_errors_exit_1_like_kubectl(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        run(argv)
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


@pytest.mark.parametrize(("server", "shown"), [
    ('Pod "default/web" not found', 'pods "web" not found'),
    ('Deployment "dev/web" not found', 'deployments.apps "web" not found'),
    ('nodes "n1" not found', 'nodes "n1" not found'),
    ("container c is not running", "container c is not running"),
])
def test_not_found_messages_read_like_kubectl(server: str, shown: str) -> None:
    from corral import errors
    from corral.cli.common import kubectl_message

    assert kubectl_message(errors.NotFound(server)) == shown


@pytest.mark.parametrize("argv", [
    ["rollout", "status"], ["rollout", "history"], ["rollout", "undo"], ["rollout", "restart"],
    ["rollout", "pause"], ["rollout", "resume"], ["set", "image"], ["image", "ls"],
    ["image", "pull"], ["image", "load"], ["image", "push"], ["image", "prune"],
    ["config", "view"], ["config", "use-context"], ["config", "set-context"],
])
def test_every_subcommand_has_help_with_an_example(argv: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        run([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "corral " + argv[0] in out.split("examples:")[1]


def test_unreachable_server_is_reported_once(tmp_path: Path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
                 "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n")
    err = io.StringIO()
    assert run(["--server", "127.0.0.1:1", "apply", "-f", str(f)], err=err) == 1
    assert err.getvalue() == ("The connection to the server 127.0.0.1:1 was refused - did you "
                              "specify the right host or port?\n")
