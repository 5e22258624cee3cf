"""Every input a user can type: each option of `synthgen generate` (and its SYNTHGEN_*
variable) given wrong-type, empty, zero, negative, huge and non-finite values, and each field
of run.json corrupted one at a time. Each case gives a clean run or one error line with a
documented exit code (2 usage/config, 4 output, 5 resume), never a traceback, never a lost
accepted record, and never a run folder left "running". The counts are printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.pipeline.fault_harness import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]

NUMBERS = ["abc", "", "0", "-1", "1e400", "nan", "inf", "-inf", "99999999999999999999999", "3.5"]
TEXTS = ["", "   ", "\x01\x7f", "x" * 5000, "no-such-thing", "../../etc/passwd"]
SKIP = {"help", "dry_run", "resume", "verbose", "validate_semantics", "output", "model"}
DOCUMENTED = {0, 2, 4, 5, 6}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    env = {"SYNTHGEN_MODELS_DIR": str(models)}
    warm = tmp_path_factory.mktemp("warm")
    assert run_cli(["generate", "--model", "fake", "--count", "2", "--output", str(warm / "run")], env, warm / "err",
                   in_process=True).code == 0
    return env


def options() -> list[tuple[str, str, str | None, bool]]:
    """(name, flag, envvar, numeric) of every value option of generate."""
    import typer.main

    from synthgen.cli import app

    command = typer.main.get_command(app).commands["generate"]  # type: ignore[attr-defined]
    out = []
    for param in command.params:
        if param.name in SKIP or getattr(param, "is_flag", False) or not param.opts:
            continue
        numeric = param.bare_type() in ("int", "float")
        envvar = param.envvar if isinstance(param.envvar, str) else None
        out.append((param.name, param.opts[0], envvar, numeric))
    return out


class Count:
    cases = clean = errors = 0


def check(out, folder: Path, where: str, count: Count) -> None:
    count.cases += 1
    assert "Traceback" not in out.stderr, f"{where}:\n{out.stderr[-1500:]}"
    assert out.code in DOCUMENTED, f"{where}: exit {out.code}\n{out.stderr[-2000:]}"
    if out.code:
        lines = [line for line in out.stderr.splitlines() if line.startswith("synthgen: error:")]
        assert len(lines) == 1, f"{where}: {out.stderr[-2000:]}"
        count.errors += 1
    else:
        count.clean += 1
    state_file = folder / "run.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        assert state.get("status") != "running", f"{where}: run.json left running\n{out.stderr[-2000:]}"
        if out.code == 0 and state.get("status") == "completed":
            data = (folder / "data.jsonl").read_text().splitlines()
            assert len(data) == state["summary"]["accepted"], where


def test_every_option_and_variable_with_hostile_values(tmp_path, env, capsys):
    count = Count()
    opts = options()
    assert len(opts) >= 15, [o[0] for o in opts]
    n = 0
    for name, flag, envvar, numeric in opts:
        for value in NUMBERS if numeric else TEXTS:
            for via in ("flag", "env") if envvar else ("flag",):
                n += 1
                out_dir = tmp_path / f"c{n}"
                base = ["generate", "--model", "fake", "--output", str(out_dir)]
                if name != "count":
                    base += ["--count", "3"]
                if name != "batch_size":
                    base += ["--batch-size", "3"]
                args, extra = (base + [flag, value], {}) if via == "flag" else (base, {envvar: value})
                out = run_cli(args, {**env, **extra}, tmp_path / "err", timeout_s=120)
                check(out, out_dir, f"{flag} {value[:20]!r} via {via}", count)
                shutil.rmtree(out_dir, ignore_errors=True)
    with capsys.disabled():
        print(f"\ninput table: {count.cases} option/variable cases: {count.errors} one-line errors, {count.clean} clean runs")


def test_every_field_of_run_json_corrupted_one_at_a_time(tmp_path, env, capsys):
    count = Count()
    good = tmp_path / "good"
    out = run_cli(["generate", "--model", "fake", "--count", "4", "--batch-size", "2", "--output", str(good)], env, tmp_path / "e")
    assert out.code == 0, out.stderr
    state = json.loads((good / "run.json").read_text())
    accepted = (good / "data.jsonl").read_bytes()
    variants = []
    for key in state:
        for label, value in (("missing", None), ("wrong type", [1, "x"]), ("string", "garbage"), ("number", -1)):
            bad = dict(state)
            if label == "missing":
                bad.pop(key)
            else:
                bad[key] = value
            variants.append((f"{key}: {label}", bad))
    variants.append(("extra field", {**state, "surprise": {"a": 1}}))
    for n, (label, bad) in enumerate(variants):
        folder = tmp_path / f"v{n}"
        shutil.copytree(good, folder)
        (folder / "run.json").write_text(json.dumps(bad))
        out = run_cli(["generate", "--model", "fake", "--count", "4", "--batch-size", "2", "--output", str(folder), "--resume"],
                      env, tmp_path / "err", timeout_s=120)
        check(out, folder, f"run.json {label}", count)
        assert (folder / "data.jsonl").read_bytes()[: len(accepted)] == accepted, f"{label}: accepted records changed"
        shutil.rmtree(folder)
    with capsys.disabled():
        print(f"\ninput table: {count.cases} corrupted run.json fields: {count.errors} one-line errors, {count.clean} resumed")


def test_model_outputs_with_control_bytes_and_invalid_utf8(tmp_path, env, capsys):
    """Answers carrying NUL, BEL, an escape sequence, a lone surrogate (undecodable bytes), a
    noncharacter and a bidi override: a clean run whose files are valid UTF-8 JSON lines, the
    outputs counted where they were dropped."""
    count = Count()
    for seed in range(3):
        out_dir = tmp_path / f"h{seed}"
        out = run_cli(["generate", "--model", "fake", "--count", "12", "--batch-size", "6", "--seed", str(seed), "--output",
                       str(out_dir)], {**env, "SYNTHGEN_FAKE_HOSTILE_RATE": "0.5"}, tmp_path / "err", timeout_s=120)
        check(out, out_dir, f"hostile outputs, seed {seed}", count)
        assert out.code == 0, out.stderr[-2000:]
        state = json.loads((out_dir / "run.json").read_text())
        for name in ("data.jsonl", "rejected.jsonl", "failed_prompts.jsonl"):
            path = out_dir / name
            for raw in path.read_bytes().splitlines() if path.exists() else []:
                raw.decode("utf-8")  # strict: no surrogate reached the disk
                json.loads(raw)
        assert state["candidates"] > 12  # some outputs were dropped (and counted), not accepted as they were
    with capsys.disabled():
        print(f"\ninput table: {count.cases} runs with hostile model outputs: all clean")


def _corruptions(data: dict) -> list[tuple[str, dict]]:
    """Each top-level field missing, of a wrong type (a list, a number, a string, null), and one extra field."""
    out = []
    for key in data:
        for label, value in (("missing", None), ("a list", [1, "x"]), ("a number", -1), ("a string", "garbage"),
                             ("null", "null")):
            bad = dict(data)
            if label == "missing":
                bad.pop(key)
            else:
                bad[key] = None if value == "null" else value
            out.append((f"{key}: {label}", bad))
    out.append(("an extra field", {**data, "surprise_field": {"a": 1}}))
    return out


def test_every_yaml_file_type_corrupted_one_field_at_a_time(tmp_path, env, capsys):
    """Model YAMLs, --recipe-config files and nl2dot's template files (recipe.yaml,
    fewshot.yaml, a domain file), each top-level field missing, of a wrong type, or one extra:
    a clean dry run or one error line (exit 2), never a traceback."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    count = Count()
    n = 0

    def case(args: list[str], extra_env: dict[str, str], where: str) -> None:
        nonlocal n
        n += 1
        folder = tmp_path / f"y{n}"
        out = run_cli([*args, "--output", str(folder)], {**env, **extra_env}, tmp_path / "err", timeout_s=120)
        check(out, folder, where, count)
        assert out.code in (0, 2), f"{where}: exit {out.code}\n{out.stderr[-1500:]}"

    model = yaml.safe_load((root / "models" / "smollm2-135m.yaml").read_text())
    model.update(alias="corrupt-me", backend="fake")
    for label, bad in _corruptions(model):
        folder = tmp_path / f"models{n}"
        folder.mkdir()
        (folder / "m.yaml").write_text(yaml.safe_dump(bad))
        case(["generate", "--model", str(bad.get("alias", "corrupt-me")), "--count", "3", "--dry-run"],
             {"SYNTHGEN_MODELS_DIR": str(folder)}, f"model YAML {label}")
    config = {"domains": "game_ai,robotics", "complexity": "30/50/20"}
    for label, bad in _corruptions(config):
        path = tmp_path / f"recipe{n}.yaml"
        path.write_text(yaml.safe_dump(bad))
        case(["generate", "--model", "fake", "--count", "3", "--dry-run", "--recipe-config", str(path)], {},
             f"--recipe-config {label}")
    source = root / "templates" / "nl2dot"
    domain = sorted((source / "domains").glob("*.yaml"))[0].name
    for name in ("recipe.yaml", "fewshot.yaml", f"domains/{domain}"):
        data = yaml.safe_load((source / name).read_text())
        if not isinstance(data, dict):
            continue
        for label, bad in _corruptions(data):
            copy = tmp_path / f"templates{n}"
            shutil.copytree(source, copy)
            (copy / name).write_text(yaml.safe_dump(bad, allow_unicode=True))
            case(["generate", "--model", "fake", "--count", "3", "--dry-run", "--templates", str(copy)], {},
                 f"templates {name} {label}")
            shutil.rmtree(copy)
    with capsys.disabled():
        print(f"\ninput table: {count.cases} corrupted YAML fields: {count.errors} one-line errors, {count.clean} clean dry runs")


def test_every_option_of_the_other_commands(tmp_path, env, capsys):
    """validate, try, export, report, compare and traces inspect: each value option with the
    same hostile values; a clean result or one error line, never a traceback. Each runs in an
    empty working folder, so a path option given as "" writes nowhere it shouldn't."""
    import typer.main

    from synthgen.cli import app

    root = Path(__file__).resolve().parents[2]
    runs = []
    for seed in (1, 2):
        run = tmp_path / f"run{seed}"
        out = run_cli(["generate", "--model", "fake", "--count", "6", "--seed", str(seed), "--output", str(run)], env, tmp_path / "e")
        assert out.code == 0, out.stderr
        runs.append(str(run))
    traces = sorted((root.parent / "shared" / "data" / "traces").rglob("*.json*"))[:1]
    bases = {
        ("validate",): ["validate", str(root / "examples")],
        ("try",): ["try", "a door that opens and closes", "--model", "fake"],
        ("export",): ["export", runs[0], "--to", "NEW"],
        ("report",): ["report", runs[0], "--out", "NEW"],
        ("compare",): ["compare", *runs, "--out", "NEW"],
    }
    if traces:
        bases[("traces", "inspect")] = ["traces", "inspect", str(traces[0])]
    group = typer.main.get_command(app)
    count = Count()
    n = 0
    failures: list[str] = []
    for path, base in bases.items():
        command = group
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        for param in command.params:
            if getattr(param, "is_flag", False) or not param.opts or not param.opts[0].startswith("--"):
                continue
            numeric = param.bare_type() in ("int", "float")
            for value in NUMBERS if numeric else TEXTS:
                n += 1
                work = tmp_path / f"w{n}"
                work.mkdir()
                args = [a.replace("NEW", str(work / "new")) for a in base]
                if param.opts[0] in args:  # replace the base's own value for this option
                    i = args.index(param.opts[0])
                    args[i + 1] = value
                else:
                    args += [param.opts[0], value]
                out = run_cli(args, env, tmp_path / "err", timeout_s=120, cwd=work)
                where = f"{' '.join(path)} {param.opts[0]} {value[:20]!r}"
                count.cases += 1
                errors = [line for line in out.stderr.splitlines() if line.startswith("synthgen: error:")]
                if "Traceback" in out.stderr or out.code not in (0, 1, 2, 3, 4, 5) or (out.code >= 2 and len(errors) != 1):
                    failures.append(f"{where}: exit {out.code}: {out.stderr.strip().splitlines()[-1:]}")
                elif out.code >= 2:
                    count.errors += 1
                else:
                    count.clean += 1
                shutil.rmtree(work)
    assert not failures, "\n".join(failures)
    for run in runs:
        assert json.loads((Path(run) / "run.json").read_text())["status"] == "completed"  # nothing wrote into the runs
    with capsys.disabled():
        print(f"\ninput table: {count.cases} cases over the other commands' options: {count.errors} one-line errors, "
              f"{count.clean} clean")
