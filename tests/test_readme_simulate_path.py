"""The README's `kit simulate` path, exactly as the README writes it: run `kit simulate` in a terminal, paste
the `export ...` lines it prints into the shell that starts the notebook, and the notebook lists the failed
instances and investigates one (no empty picker, no NoCredentialsError).

The commands are read from README.md, so a README that changes the path changes the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from kit.causes import causes

README = Path(__file__).resolve().parents[1] / "README.md"
STARTUP_S = 240.0
# What the notebook's first cells do in the shell's kernel: start, list the failed instances, pick one.
NOTEBOOK_STEPS = """
from kit.notebook.controls import InvestigationControls
from kit.notebook.investigation import Investigation
from kit.params import validate
investigation = Investigation.start(validate({"interactive": True}))
controls = InvestigationControls(investigation)
assert not controls.listing_problem, controls.listing_problem
print("listed", " ".join(controls.table_buttons))
picked = next(iter(controls.table_buttons))
controls.pick(picked)
print("verdict", picked, investigation.findings.instance_id, investigation.findings.verdict.cause)
"""


def _readme_simulate_path() -> tuple[str, str]:
    """The command the README tells the analyst to run, and the sentence saying what to paste."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentence = re.search(r"run `(kit simulate[^`]*)` in a terminal and paste the `export \.\.\.` lines it prints"
                         r"[^.]*\.", text)
    assert sentence, "README.md no longer describes the `kit simulate` path of the notebook"
    return sentence.group(1), sentence.group(0)


def test_the_readmes_kit_simulate_path_lists_and_investigates(tmp_path: Path) -> None:
    command, sentence = _readme_simulate_path()
    assert "jupyter lab" in sentence  # the lines go into the shell that starts the notebook
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    printed = tmp_path / "simulate.err"
    with printed.open("w") as stderr:
        simulate = subprocess.Popen(["bash", "-c", f"exec {command}"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=stderr, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while "export AWS_REGION=" not in printed.read_text():
            assert simulate.poll() is None, f"`{command}` exited: {printed.read_text()}"
            assert time.monotonic() < deadline, f"`{command}` printed no export block within {STARTUP_S} s"
            time.sleep(0.5)
        # Paste the lines into a fresh shell (eval), then run the notebook's steps from that shell.
        script = f'eval "$(grep "^export " {printed})" && exec python -c "$NOTEBOOK_STEPS"'
        shell = subprocess.run(["bash", "-c", script], env={**env, "NOTEBOOK_STEPS": NOTEBOOK_STEPS},
                               capture_output=True, text=True, timeout=STARTUP_S, cwd=tmp_path)
        assert shell.returncode == 0, shell.stderr[-3000:]
        listed = next(line for line in shell.stdout.splitlines() if line.startswith("listed"))
        assert re.fullmatch(r"listed( i-[0-9a-f]{17})+", listed)
        _word, picked, investigated, cause = next(
            line for line in shell.stdout.splitlines() if line.startswith("verdict")).split()
        assert picked == investigated and picked in listed
        assert cause in causes()
        assert "NoCredentialsError" not in shell.stdout + shell.stderr
    finally:
        simulate.terminate()
        try:
            simulate.wait(timeout=60)
        except subprocess.TimeoutExpired:
            simulate.kill()
            simulate.wait()
