"""mypy accepts the package's annotations and the public API as users call it.

keras-denoise ships `py.typed`, so users' type checkers read its annotations. mypy once found
`keras-denoise denoise` asking models of one fixed side for images of "16xNone" pixels, and
`psnr(...)` typed as `float | ndarray` whatever its `reduction`, which a user's
`score: float = psnr(clean, estimate)` failed on; and to a user's `mypy --strict` the package
exported no name, as its `__all__` was computed. `tests/typing_public_api.py` holds the calls to
check; `pyproject.toml` the settings.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_API = ROOT / "tests" / "typing_public_api.py"


def _mypy(tmp_path, *arguments):
    """mypy's exit status and report, run from the project's root with its settings."""
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *arguments]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return completed.returncode, completed.stdout + completed.stderr


def test_mypy_accepts_the_package_and_its_public_api_in_use(tmp_path):
    status, report = _mypy(tmp_path)
    assert status == 0, report
    assert "Success: no issues found" in report


def test_the_public_api_passes_a_users_strict_check(tmp_path):
    # What a user running `mypy --strict` on their code sees: errors in the installed package
    # are not theirs (`silent`), but an undeclared export or an untyped result would be. The
    # package's `__all__`, computed until then, declared no name at all to such a check.
    status, report = _mypy(tmp_path, "--strict", "--follow-imports=silent", str(PUBLIC_API))
    assert status == 0, report


def test_mypy_rejects_a_misuse_of_the_public_api(tmp_path):
    # The check can fail: a return type used as the other reduction's is an error.
    misuse = tmp_path / "misuse.py"
    misuse.write_text(
        "import numpy as np\n"
        "from keras_denoise.metrics import psnr\n"
        "def score(clean: np.ndarray) -> float:\n"
        "    return psnr(clean, clean, reduction='none')\n"
    )
    status, report = _mypy(tmp_path, str(misuse))
    assert status == 1, report
    assert "misuse.py:4: error: Incompatible return value type" in report
