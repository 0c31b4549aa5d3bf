"""The project's promises about itself: the README's two commands, CI running them verbatim,
lint, and the typed-package marker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"),
                        flags=re.S)
    return [b.strip() for b in blocks[:2]]


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.index("```")
    assert text[:first_block].strip().startswith("# tinygrad_ko")
    assert "\n" not in text[:first_block].strip()  # nothing but the title before them
    install_and_run, install_and_test = readme_commands()
    assert install_and_run == "pip install . && python -m tinygrad_ko train"
    assert install_and_test == 'pip install ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_package_is_marked_typed() -> None:
    assert (ROOT / "tinygrad_ko" / "py.typed").exists()


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def project_dependencies() -> list[str]:
    """``[project].dependencies`` of pyproject.toml: by tomllib where Python has it (3.11+), else
    by a regex over the file's text (the project supports 3.10, which lacks tomllib)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:
        section = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", text, flags=re.M | re.S)
        assert section, "pyproject.toml has no [project] table"
        listed = re.search(r"^dependencies\s*=\s*\[(.*?)\]", section[1], flags=re.M | re.S)
        assert listed, "[project] has no dependencies"
        return re.findall(r'"([^"]+)"', listed[1])
    return tomllib.loads(text)["project"]["dependencies"]


def test_hypothesis_is_a_runtime_dependency() -> None:
    # tg.testing.strategies, check_property, `python -m tinygrad_ko gradcheck` and the README's
    # custom-loss snippet must work right after `pip install .`, without the test extra.
    names = {re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()
             for requirement in project_dependencies()}
    assert {"numpy", "hypothesis"} <= names
