import subprocess
import sys

from synthgen.cli import main


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
    assert rows["nl2dot"]["flags"] == ["--domains", "--complexity", "--templates"]
    assert set(rows["nl2dot"]["options"]) == {"domains", "complexity", "templates"}
    for command in ("generate", "local", "api"):  # the run options are declared once, for all three
        text = subprocess.run([sys.executable, "-m", "synthgen", command, "--help"], capture_output=True, text=True,
                              env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=True).stdout
        for flag in ("--recipe ", "--recipe-config", "--count", "--max-gpu-hours", "--domains", "--complexity", "--resume"):
            assert flag in text, (command, flag)
