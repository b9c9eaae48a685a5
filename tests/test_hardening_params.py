"""Issue 16 defects 10 and 2: parameter files with YAML aliases, or unreadable ones, are refused by name."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from kit.batch.incidents import read_parameter_file
from kit.errors import BadInput

LOL = '"lol"'
# the classic billion laughs (9 levels of 9 references), under a parameter the kit knows, so that the value
# is one the kit complains about (a list where a string belongs) and would print
BILLION_LAUGHS = "region:\n  - &a [" + ", ".join([LOL] * 9) + "]\n" + "".join(
    f"  - &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n" for prev, name in zip("abcdefgh", "bcdefghi"))

_SCRIPT = """
import sys
from pathlib import Path
from kit.batch.incidents import read_parameter_file
from kit.errors import BadInput
try:
    read_parameter_file(Path(sys.argv[1]))
except BadInput as exc:
    print(exc)
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))


def test_billion_laughs_parameter_file_is_refused_quickly_by_name(tmp_path: Path) -> None:
    """Before: the aliases were expanded and the whole value printed into the error (minutes, gigabytes)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS) < 500
    try:
        done = subprocess.run([sys.executable, "-c", _SCRIPT, str(bomb)], capture_output=True, text=True,
                              timeout=20, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        raise AssertionError("reading a 428-byte alias bomb took more than 20 s") from None
    assert done.returncode == 0, done.stderr[-2000:]
    message = done.stdout.strip()
    assert str(bomb) in message and "alias" in message and len(message) < 400, message


def test_any_alias_or_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("instance_id: &id i-0123456789abcdef0\nregion: eu-west-1\nscenario: *id\n", encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        read_parameter_file(path)
    assert str(path) in str(caught.value) and "alias" in str(caught.value)
    path.write_text("instance_id: &id i-0123456789abcdef0\nregion: eu-west-1\n", encoding="utf-8")
    with pytest.raises(BadInput, match="anchor"):
        read_parameter_file(path)
    path.write_text("instance_id: i-0123456789abcdef0\nregion: eu-west-1\nscenario: seed\nout_dir: 'a&b *c'\n", encoding="utf-8")
    assert read_parameter_file(path).out_dir == "a&b *c"


@pytest.mark.parametrize("content", [b"instance_id: i-0123\xff\xfe\n", b"\x80\x81"])
def test_a_parameter_file_that_is_not_utf8_is_bad_input_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(content)
    with pytest.raises(BadInput) as caught:
        read_parameter_file(path)
    assert str(path) in str(caught.value) and "UTF-8" in str(caught.value)


def test_a_directory_or_a_list_is_bad_input_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="readable"):
        read_parameter_file(tmp_path)
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(BadInput, match="mapping"):
        read_parameter_file(path)
