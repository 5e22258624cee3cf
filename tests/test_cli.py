import subprocess
import sys
from pathlib import Path

from synthgen.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from synthgen.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('torch', 'vllm', 'transformers', 'outlines', 'datasketch', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"--help imported: {out.stdout.strip()}"


def test_python_dash_m_runs():
    out = subprocess.run([sys.executable, "-m", "synthgen", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("synthgen ")


def test_unknown_command_exits_nonzero(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code != 0
    else:  # pragma: no cover
        raise AssertionError("expected a non-zero exit")


def test_recipes_list_shows_the_registry_and_generate_help_its_flags():
    import json

    out = subprocess.run([sys.executable, "-m", "synthgen", "recipes", "list", "--json"], capture_output=True, text=True, check=True)
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["nl2dot"]["default"] and rows["nl2dot"]["cells"] == ["domain", "complexity"]
    assert rows["nl2dot"]["flags"] == ["--domains", "--complexity", "--templates", "--checks-off"]
    assert set(rows["nl2dot"]["options"]) == {"domains", "complexity", "templates", "quality", "checks_off"}
    for command in ("generate", "local", "api"):  # the run options are declared once, for all three
        text = subprocess.run([sys.executable, "-m", "synthgen", command, "--help"], capture_output=True, text=True,
                              env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=True).stdout
        for flag in ("--recipe ", "--recipe-config", "--count", "--max-gpu-hours", "--domains", "--complexity", "--resume"):
            assert flag in text, (command, flag)


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path):
    """The missing-key hint said "put it in .env" but .env was never read."""
    import os

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"only-in-{name}.yaml").write_text(f"alias: only-in-{name}\nbackend: fake\ndescription: x\n")
    (tmp_path / ".env").write_text(f"# a comment\nexport SYNTHGEN_MODELS_DIR=\"{tmp_path / 'a'}\"\nOPENAI_API_KEY=\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SYNTHGEN_MODELS_DIR", "SYNTHGEN_ENV_FILE")}
    env["PYTHONPATH"] = str(ROOT)
    listed = subprocess.run([sys.executable, "-m", "synthgen", "models", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "only-in-a" in listed.stdout, listed.stderr
    env["SYNTHGEN_MODELS_DIR"] = str(tmp_path / "b")
    listed = subprocess.run([sys.executable, "-m", "synthgen", "models", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "only-in-b" in listed.stdout and "only-in-a" not in listed.stdout
