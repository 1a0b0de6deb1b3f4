"""The systemd unit and its companions in packaging/, the documented layout, and the docs' links."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmt_plugin.cli import build_parser
from fmt_plugin.commands.hl7 import cmd_serve
from fmt_plugin.config import ServiceSettings, load_config

ROOT = Path(__file__).parents[1]
PACKAGING = ROOT / "packaging"
UNIT = PACKAGING / "fmt-plugin.service"
OPERATIONS = ROOT / "docs" / "operations.md"
#: Where the unit and operations.md put things on a real machine.
CONFIG_DIR = "/etc/fmt-plugin"
STATE_DIR = "/var/lib/fmt-plugin"
AS_OF = "2026-03-15"

Unit = dict[str, list[tuple[str, str]]]


def read_unit(path: Path) -> Unit:
    """The unit's assignments per section, in file order (systemd allows repeated keys)."""
    sections: Unit = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"line {number}: keep one setting per line"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: not KEY=VALUE: {raw!r}"
        assert current is not None, f"line {number}: a setting before any [section]"
        current.append((key.strip(), value.strip()))
    return sections


def setting(unit: Unit, section: str, key: str) -> str:
    """The value systemd uses for a single-valued key: its last assignment."""
    values = [value for name, value in unit.get(section, []) if name == key]
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


_SPAN_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


def time_span_s(text: str) -> float:
    """A systemd time span (`30s`, `10min`, `1min 30s`, `90`) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    assert parts, f"not a time span: {text!r}"
    return sum(float(value) * _SPAN_UNITS[unit or "s"] for value, unit in parts)


@pytest.fixture(scope="module")
def unit() -> Unit:
    return read_unit(UNIT)


def exec_start(unit: Unit) -> list[str]:
    return shlex.split(setting(unit, "Service", "ExecStart"))


def test_exec_start_runs_serve_with_the_etc_configuration(unit):
    """ExecStart's arguments parse with the real CLI parser into `serve`."""
    binary, *arguments = exec_start(unit)
    assert binary == "/opt/fmt-plugin/venv/bin/fmt-plugin"
    args = build_parser().parse_args(arguments)
    assert args.handler is cmd_serve
    assert args.config == f"{CONFIG_DIR}/fmt.toml"


HARDENING = {
    "User": "fmt-plugin",
    "Group": "fmt-plugin",
    "StateDirectory": "fmt-plugin",
    "StateDirectoryMode": "0700",
    "UMask": "0077",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native",
    # serve speaks sd_notify (fmt_plugin/systemd.py): started means listening.
    "Type": "notify",
    "NotifyAccess": "main",
    "Restart": "on-failure",
    "RestartPreventExitStatus": "2",
    "KillSignal": "SIGTERM",
    "StandardError": "journal",
}


@pytest.mark.parametrize(("key", "expected"), HARDENING.items(), ids=list(HARDENING))
def test_unit_sets_hardening_and_lifecycle_key(unit, key, expected):
    """The unit sets each required hardening and restart key to its intended value."""
    assert setting(unit, "Service", key) == expected


def test_unit_waits_before_restarting(unit):
    """Restart=on-failure comes with a RestartSec, so a crash loop does not spin."""
    assert time_span_s(setting(unit, "Service", "RestartSec")) >= 1


def test_stop_timeout_exceeds_the_default_shutdown_timeout(unit):
    """systemd's SIGKILL comes well after fmt-plugin's own shutdown bound."""
    stop_timeout = time_span_s(setting(unit, "Service", "TimeoutStopSec"))
    assert stop_timeout >= ServiceSettings().shutdown_timeout_s + 10


def test_unit_is_enabled_by_the_multi_user_target(unit):
    """`systemctl enable` starts it at boot."""
    assert setting(unit, "Install", "WantedBy") == "multi-user.target"


def config_lines(path: Path) -> list[list[str]]:
    """The non-comment lines of a sysusers.d or tmpfiles.d file, split in fields."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        shlex.split(line) for line in lines if line.strip() and not line.startswith("#")
    ]


def test_sysusers_creates_the_account_the_unit_runs_as(unit):
    """packaging/fmt-plugin.sysusers declares the unit's User, homed in its state folder."""
    users = {
        fields[1]: fields
        for fields in config_lines(PACKAGING / "fmt-plugin.sysusers")
        if fields[0] == "u"
    }
    account = users[setting(unit, "Service", "User")]
    assert account[4] == f"/var/lib/{setting(unit, 'Service', 'StateDirectory')}"


def test_tmpfiles_state_folder_matches_the_unit(unit):
    """tmpfiles creates the state folder with the unit's owner and mode, for `init`."""
    folders = {
        fields[1]: fields[2:5]
        for fields in config_lines(PACKAGING / "fmt-plugin.tmpfiles")
        if fields[0] == "d"
    }
    user = setting(unit, "Service", "User")
    state = f"/var/lib/{setting(unit, 'Service', 'StateDirectory')}"
    mode = setting(unit, "Service", "StateDirectoryMode")
    assert folders[state] == [mode, user, setting(unit, "Service", "Group")]


def test_tmpfiles_config_folder_is_readable_by_the_service_group_only(unit):
    """The folder of ExecStart's --config belongs to root, the service group reads it."""
    folders = {
        fields[1]: fields[2:5]
        for fields in config_lines(PACKAGING / "fmt-plugin.tmpfiles")
        if fields[0] == "d"
    }
    config = Path(build_parser().parse_args(exec_start(unit)[1:]).config)
    assert folders[str(config.parent)] == ["0750", "root", "fmt-plugin"]


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's own `fmt-plugin` script.

    `systemd-analyze verify` checks that the binary exists; /opt/fmt-plugin is not installed
    on a development machine, and every other line stays as shipped.
    """
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    script = Path(sys.executable).with_name("fmt-plugin")
    if not script.is_file():
        pytest.skip(f"no installed fmt-plugin script next to {sys.executable}")
    text = UNIT.read_text(encoding="utf-8")
    copy = tmp_path / UNIT.name
    copy.write_text(
        text.replace("/opt/fmt-plugin/venv/bin/fmt-plugin", str(script)),
        encoding="utf-8",
    )
    return copy


def systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_systemd_analyze_verify_accepts_the_unit(verifiable_unit):
    """`systemd-analyze verify` finds no error or unknown setting in the unit."""
    result = systemd_analyze("verify", "--man=no", str(verifiable_unit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unknown" not in result.stderr, result.stderr


def test_systemd_analyze_security_rates_the_unit_well_protected(verifiable_unit):
    """The offline security review scores the unit's exposure at 2.0 or less (of 10)."""
    # --threshold is on systemd's internal 0-100 scale: 20 is the 2.0 it prints.
    result = systemd_analyze(
        "security", "--offline=yes", "--threshold=20", str(verifiable_unit)
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def documented_sed(state: Path, config: Path) -> list[str]:
    """operations.md's `sed` command, with the machine's folders replaced by `state`/`config`."""
    text = OPERATIONS.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("sed -i ")]
    assert len(lines) == 1, "operations.md should show exactly one `sed -i` command"
    return [
        arg.replace(STATE_DIR, str(state)).replace(CONFIG_DIR, str(config))
        for arg in shlex.split(lines[0])
    ]


@pytest.fixture
def documented_layout(run_cli, tmp_path: Path, public_scenario: Path) -> Path:
    """operations.md's installation: `init` in the state folder, config and key moved out.

    Returns the moved fmt.toml; the state folder is `tmp_path / "var-lib"`.
    """
    if shutil.which("sed") is None:
        pytest.skip("sed is not installed on this machine")
    state, config = tmp_path / "var-lib", tmp_path / "etc"
    result = run_cli(
        "init",
        state,
        "--roster",
        public_scenario / "roster.csv",
        "--acts",
        public_scenario / "acts.csv",
    )
    assert result.returncode == 0, result.stderr
    config.mkdir()
    (config / "audit").mkdir(mode=0o700)
    for name in ("fmt.toml", "fmt.key"):
        (state / name).rename(config / name)
    (state / "fmt.key.audit-head").rename(config / "audit" / "fmt.key.audit-head")
    subprocess.run(documented_sed(state, config), check=True, timeout=30)
    return config / "fmt.toml"


@pytest.mark.slow
def test_documented_layout_writes_only_in_the_state_folder(
    run_cli, documented_layout, public_scenario
):
    """After the documented edits, importing and sending recalls leave the config folder as is."""
    config_dir, state = (
        documented_layout.parent,
        documented_layout.parent.parent / "var-lib",
    )
    settings = load_config(documented_layout)
    assert settings.store.path.parent == state
    assert settings.recalls.jobstore is not None
    assert settings.recalls.jobstore.parent == state
    for args in (
        ("import", public_scenario / "messages"),
        ("recalls", "run", "--as-of", AS_OF),
    ):
        result = run_cli("--config", documented_layout, *args)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in config_dir.iterdir()) == [
        "audit",
        "fmt.key",
        "fmt.toml",
    ]
    # The audit anchor moved with each change, in its own folder and nowhere else.
    assert settings.audit.anchor_file == config_dir / "audit" / "fmt.key.audit-head"
    assert [p.name for p in (config_dir / "audit").iterdir()] == ["fmt.key.audit-head"]
    assert list((state / "outbox").glob("*.eml"))


@pytest.mark.slow
def test_documented_backup_restores_on_a_new_machine_with_the_key_file(
    run_cli, documented_layout, public_scenario, tmp_path
):
    """`backup`, then on a new machine the key, the configuration and `restore`: all holds."""
    config = documented_layout
    state = config.parent.parent / "var-lib"
    result = run_cli("--config", config, "import", public_scenario / "messages")
    assert result.returncode == 0, result.stderr
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    result = run_cli("--config", config, "backup", backups)
    assert result.returncode == 0, result.stderr
    (backup,) = backups.iterdir()
    # A new machine: the key and configuration from their own copies, no store, no anchor.
    restored_state, restored_etc = tmp_path / "new-var-lib", tmp_path / "new-etc"
    restored_state.mkdir()
    (restored_etc / "audit").mkdir(parents=True)
    shutil.copy2(config.parent / "fmt.key", restored_etc / "fmt.key")
    (restored_etc / "fmt.toml").write_text(
        config.read_text(encoding="utf-8")
        .replace(str(state), str(restored_state))
        .replace(str(config.parent), str(restored_etc)),
        encoding="utf-8",
    )
    restored = restored_etc / "fmt.toml"
    result = run_cli("--config", restored, "restore", backup, "--oui")
    assert result.returncode == 0, result.stderr

    assert (restored_etc / "audit" / "fmt.key.audit-head").exists()
    assert run_cli("--config", restored, "audit", "verify").returncode == 0
    report = ("report", "--as-of", AS_OF, "--format", "json")
    before = run_cli("--config", config, *report)
    after = run_cli("--config", restored, *report)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)


# --- Documentation links -----------------------------------------------------------------

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(path: Path) -> str:
    """The Markdown text outside fenced code blocks, where links are links."""
    return _FENCED.sub("", path.read_text(encoding="utf-8"))


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (lowercase, punctuation dropped)."""
    anchors: set[str] = set()
    for line in prose(path).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def relative_links(path: Path) -> list[str]:
    text = prose(path)
    targets = _INLINE_LINK.findall(text) + _REFERENCE_LINK.findall(text)
    return [t for t in targets if not _SCHEME.match(t)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    """Every relative link (and #anchor) in the README and docs/ points at something real."""
    broken = []
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        anchor_missing = (
            linked.exists()
            and anchor
            and linked.suffix == ".md"
            and anchor not in heading_anchors(linked)
        )
        if not linked.exists() or anchor_missing:
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_paths_named_in_docs_exist(doc):
    """A repository path written as `code` (`docs/hl7.md`, `packaging/…`) exists."""
    roots = "docs|config|packaging|fmt_plugin|tests|bench"
    named = re.findall(rf"`((?:{roots})/[^`\s*]+)`", prose(doc))
    assert [p for p in named if not (ROOT / p).exists()] == []
