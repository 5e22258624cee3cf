"""The runner: plan → generate → steps → sink, batch by batch, until the quotas are met.

Before every batch it checks the budget, the hard candidate cap and a stop signal
(SIGINT from Ctrl-C, SIGTERM from ``docker stop`` or a batch scheduler); after every batch
it appends accepted / rejected / failed records (one write + fsync each) and saves run.json,
so a run killed at any instant resumes with nothing lost and nothing duplicated: on
``--resume`` quota counts and the dedup index are rebuilt from the accepted records on
disk, and the planner continues after the last item it handed out.

A run that ends on an exception (the engine died, the disk filled up) saves run.json with
status ``failed`` and the error's one line as its stop reason, then re-raises; it resumes
like any other stopped run.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.pipeline.dedup import DedupConfig, DedupIndex, DedupStep
from synthgen.pipeline.quota import Quota, QuotaStep
from synthgen.pipeline.record import RecordContext, accepted_record, failed_record, rejected_record
from synthgen.pipeline.steps import BatchResult, Pipeline, Sample
from synthgen.pipeline.stopping import StopFlag, StopNow, signal_label

DEFAULT_MODEL = "smollm2-135m"
MAX_FAILED_BATCHES = 3  # stop rather than burn the candidate cap on a dead engine


@dataclass(slots=True)
class RunConfig:
    """Everything one run needs; the CLI builds it from flags and SYNTHGEN_* variables."""

    output: Path
    model: str = DEFAULT_MODEL
    count: int = 100
    domains: str | None = None  # "all" or a comma list
    complexity: str | None = None  # weights, e.g. "30/50/20" or "simple=30,medium=50,complex=20"
    seed: int = 0
    batch_size: int = 32
    max_candidates: int | None = None  # hard cap; default max(4 x count, count + 64)
    max_gpu_hours: float | None = None
    max_cost: float | None = None
    validate_semantics: bool = False
    judge_model: str | None = None
    templates: Path | None = None
    temperature: float = 0.8
    resume: bool = False
    verbose: bool = False
    spec: Any = None  # a ModelSpec built on the fly (synthgen api); else resolved from ``model``
    backend_overrides: dict[str, Any] = field(default_factory=dict)
    dedup: DedupConfig = DedupConfig()
    resume_command: str = ""

    @property
    def cap(self) -> int:
        return self.max_candidates or max(4 * self.count, self.count + 64)


@dataclass(slots=True)
class Plan:
    recipe: Any
    domains: list[str]
    weights: dict[str, float]
    targets: dict[tuple[str, str], int]
    spec: Any


def make_plan(config: RunConfig) -> Plan:
    """Recipe, targets per (domain, complexity) and the model spec; all user errors surface here."""
    from synthgen.errors import ConfigError
    from synthgen.recipes.nl2dot import compute_targets, load_recipe, parse_complexity_weights, parse_domains

    if config.count < 1:
        raise ConfigError(f"--count must be at least 1, got {config.count}")
    if config.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {config.batch_size}")
    recipe = load_recipe(config.templates)
    domains = parse_domains(config.domains or "all", recipe.domains)
    weights = parse_complexity_weights(config.complexity) if config.complexity else dict(recipe.default_weights)
    targets = compute_targets(config.count, domains, weights)
    return Plan(recipe, domains, weights, targets, config.spec or _resolve(config.model))


def _resolve(alias: str) -> Any:
    from synthgen.models import resolve_model

    return resolve_model(alias)


def grammar_for(complexity: str) -> tuple[str | None, int]:
    """The bounded generation grammar for one complexity level and the max_tokens it fits in."""
    from synthgen.dot import gen_grammar

    grammar = gen_grammar.generation_grammar(complexity)
    return grammar, int(gen_grammar.recommended_max_tokens(complexity))


def fingerprint(config: RunConfig, plan: Plan) -> dict[str, Any]:
    """What decides which records this run produces; --resume must match it."""
    from synthgen.pipeline.runstate import fingerprint_of

    source = plan.spec.source
    return fingerprint_of(
        {
            "recipe": plan.recipe.name,
            "recipe_fingerprint": plan.recipe.fingerprint(),
            "model": plan.spec.alias,
            "model_backend": plan.spec.backend,
            "model_revision": source.revision if source else None,
            "count": config.count,
            "domains": plan.domains,
            "complexity_weights": plan.weights,
            "seed": config.seed,
            "temperature": config.temperature,
            "validate_semantics": config.validate_semantics,
            "judge_model": config.judge_model if config.validate_semantics else None,
            "dedup": [config.dedup.near_threshold, config.dedup.num_perm, config.dedup.min_per_shape, config.dedup.max_shape_share],
        }
    )


def request_seeds_ok(backend: Any) -> bool:
    """Whether to send per-item seeds. vLLM on CPU (0.32) kills its worker on a seeded request
    whose prefill is chunked ("CPU Generator does not use offset"), so a loaded vLLM engine
    on the CPU platform gets none (the engine-level seed still applies); any backend can say
    so itself with ``supports_request_seed``."""
    import sys

    flag = getattr(backend, "supports_request_seed", None)
    if flag is not None:
        return bool(flag)
    platforms = sys.modules.get("vllm.platforms") if getattr(backend, "name", "") == "vllm" else None
    return not (platforms is not None and platforms.current_platform.is_cpu())


def _one_line(exc: BaseException) -> str:
    from synthgen.errors import SynthgenError

    if isinstance(exc, SynthgenError):
        return exc.one_line()
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Runner:
    def __init__(self, config: RunConfig, progress: Any = None) -> None:
        from synthgen.pipeline.progress import Progress

        self.config = config
        self.progress = progress or Progress(verbose=config.verbose)
        self.plan = make_plan(config)
        self.quota = Quota(self.plan.targets)
        self.candidates = 0
        self.failed_batches = 0  # consecutive batches in which every request failed in the engine
        self.last_engine_error = ""
        self.backend: Any = None
        self._judge_backend: Any = None

    # -- set-up --------------------------------------------------------------------------

    def _restore(self, folder: Any, state: dict[str, Any]) -> int:
        """Quota counts and dedup index from the accepted records; the next plan index."""
        next_index = int(state.get("plan_next_index", 0))
        for record in folder.existing_accepted():
            self.quota.add((record["domain"], record["complexity_measured"]))
            self.dedup.index.add_record(record)
            next_index = max(next_index, int(record["provenance"].get("plan_index", -1)) + 1)
        self.candidates = int(state.get("candidates", 0))
        self.pipeline.load_counters(state.get("counters"))
        return next_index

    def _build_pipeline(self, ledger: Any) -> Pipeline:
        from synthgen.pipeline.judge import JudgeStep
        from synthgen.pipeline.parse_step import ParseStep
        from synthgen.pipeline.validate_step import MeasureStep, ValidateStep

        self.dedup = DedupStep(DedupIndex(self.config.dedup, self.quota.targets))
        steps: list[Any] = [ParseStep(), ValidateStep(), MeasureStep(self.plan.recipe.complexities)]
        if self.config.validate_semantics:
            judge_alias = self.config.judge_model or self.plan.spec.alias
            steps.append(JudgeStep(self._judge(), judge_alias, ledger, self._judge_prices()))
        steps += [self.dedup, QuotaStep(self.quota)]
        return Pipeline(steps)

    def _judge(self) -> Any:
        if not self.config.judge_model or self.config.judge_model == self.plan.spec.alias:
            return self.backend
        from synthgen.backends.registry import create_backend

        self._judge_spec = _resolve(self.config.judge_model)
        self._judge_backend = create_backend(self._judge_spec)
        self._judge_backend.load()
        return self._judge_backend

    def _judge_prices(self) -> Any:
        spec = getattr(self, "_judge_spec", None) or self.plan.spec
        return spec.prices

    # -- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from synthgen.backends.registry import create_backend
        from synthgen.pipeline.budget import Budget, Ledger
        from synthgen.pipeline.runlog import RunLogger
        from synthgen.pipeline.sink import LOG_FILE, RunFolder

        cfg = self.config
        budget = Budget(cfg.max_gpu_hours, cfg.max_cost)
        fp = fingerprint(cfg, self.plan)
        with StopFlag() as self._stop, RunFolder(cfg.output, resume=cfg.resume, fingerprint=fp) as folder:
            for line in [*folder.notes, *folder.repairs]:
                self.progress.message(line)
            # The folder's own state (saved when it was first opened, or by an earlier
            # attempt): one run_id for every record of the run, however often it restarts.
            state = folder.state
            state["resume_command"] = cfg.resume_command or state.get("resume_command", "")
            ledger = Ledger.from_dict(state.get("ledger"))
            self.backend = create_backend(self.plan.spec, **cfg.backend_overrides)
            self.pipeline = self._build_pipeline(ledger)
            from synthgen.recipes.nl2dot import Planner

            self.planner = Planner(self.plan.recipe, cfg.seed, start_index=self._restore(folder, state))
            ctx = self._context(state["run_id"])
            with RunLogger(folder.path / LOG_FILE) as self.log:
                self.log.event("start", run_id=ctx.run_id, model=ctx.model, resume=cfg.resume, targets=self.quota.target_total,
                               accepted_on_disk=self.quota.accepted_total, plan_next_index=self.planner.next_index)
                return self._loop(folder, state, ledger, budget, ctx)

    def _context(self, run_id: str) -> RecordContext:
        spec = self.plan.spec
        revision = spec.source.revision if spec.source else None
        backend = spec.backend if spec.backend != "openai" else (spec.provider or "openai")
        return RecordContext(run_id=run_id, backend=backend, model=spec.alias, model_revision=revision, plan_seed=self.config.seed)

    def _loop(self, folder: Any, state: dict[str, Any], ledger: Any, budget: Any, ctx: RecordContext) -> dict[str, Any]:
        from synthgen.errors import BackendError, OutputError
        from synthgen.pipeline.runstate import STATUS_FAILED, STATUS_INTERRUPTED

        status, why = "running", ""
        error: BaseException | None = None
        loaded = False  # an engine that never started (bad model, too big): resuming won't help
        stop = self._stop
        state.pop("stop_signal", None)
        self.progress.start(self.quota)
        try:
            if not self.quota.done and stop.signum is None:
                self.backend.load()
            loaded = True
            while status == "running":
                status, why = self._should_stop(budget, ledger, stop)
                if status == "running":
                    self._batch(folder, state, ledger, ctx)
        except StopNow as exc:
            error, status = exc, STATUS_INTERRUPTED
            why = f"stopped at once by a second {signal_label(exc.signum)}; the batch in flight was not written"
            raise
        except KeyboardInterrupt as exc:  # no handler of ours (not the main thread)
            error, status, why = exc, STATUS_INTERRUPTED, "interrupted; the batch in flight was not written"
            raise
        except BackendError as exc:
            if stop.signum is None:
                error, status, why = exc, STATUS_FAILED, _one_line(exc)
                raise
            # Ctrl-C in a terminal signals the whole process group: vLLM's engine core and
            # workers exit on it, so the batch in flight is lost. That is a stop, not a failure.
            error, status = exc, STATUS_INTERRUPTED
            why = (f"{signal_label(stop.signum)} also stopped the engine's own processes; the batch in flight was not "
                   "written (a SIGTERM to synthgen alone, e.g. kill PID or docker stop, keeps it)")
            raise StopNow(stop.signum) from exc
        except BaseException as exc:
            error, status, why = exc, STATUS_FAILED, _one_line(exc)
            raise
        finally:
            self.progress.stop()
            if status == STATUS_INTERRUPTED and stop.signum is not None:
                state["stop_signal"] = signal.Signals(stop.signum).name
            try:
                self._save(folder, state, ledger, status, why)
                self.log.event("stop", status=status, reason=why, accepted=self.quota.accepted_total)
            except OutputError as exc:  # the disk is full even for run.json: report, keep the first error
                if error is None:
                    raise
                self.progress.message(f"could not save {folder.path / 'run.json'}: {exc.one_line()}")
            finally:
                self._close()
                if status != "completed":
                    if status != STATUS_FAILED:  # a failure's own line is printed by the CLI
                        self.progress.message(f"stopped: {why}")
                    if state.get("resume_command") and (loaded or status != STATUS_FAILED):
                        self.progress.message(f"to continue this run: {state['resume_command']}")
        return self.summary(state, ledger)

    def _should_stop(self, budget: Any, ledger: Any, stop: StopFlag) -> tuple[str, str]:
        from synthgen.pipeline.runstate import STATUS_COMPLETED, STATUS_INTERRUPTED, stopped

        if self.quota.done:
            return STATUS_COMPLETED, "every quota met"
        if stop.signum is not None:
            return STATUS_INTERRUPTED, f"interrupted ({signal_label(stop.signum)}); everything accepted so far is saved"
        over = budget.exceeded(ledger)
        if over:
            return stopped("budget"), over
        if self.failed_batches >= MAX_FAILED_BATCHES:
            return stopped("engine"), (
                f"the engine failed every request of {self.failed_batches} batches in a row: {self.last_engine_error}"
            )
        if self.candidates >= self.config.cap:
            return stopped("cap"), (
                f"hard candidate cap hit: {self.candidates} candidates generated for "
                f"{self.quota.accepted_total}/{self.quota.target_total} accepted (raise --max-candidates)"
            )
        return "running", ""

    def _batch(self, folder: Any, state: dict[str, Any], ledger: Any, ctx: RecordContext) -> None:
        from synthgen.errors import OutputError
        from synthgen.recipes.nl2dot import candidates_for

        needed = self.quota.needed()
        rate = self.quota.accepted_total / self.candidates if self.candidates else 1.0
        n = min(self.config.batch_size, candidates_for(sum(needed.values()), rate, self.config.cap - self.candidates))
        items = self.planner.next_items(needed, max(1, n))
        saved = (self.candidates, self.pipeline.counters())
        result = self.process(items, ledger)
        self.candidates += len(items)
        try:
            folder.append("accepted", [accepted_record(s, ctx) for s in result.accepted])
            folder.append("rejected", [rejected_record(d, ctx) for d in result.of_kind("rejected")])
            folder.append("failed", [failed_record(d, ctx) for d in result.of_kind("failed")])
        except OutputError:
            self._unwind(folder, *saved)
            raise
        state["plan_next_index"] = self.planner.next_index
        self._save(folder, state, ledger, "running", "")
        self.log.event("batch", candidates=len(items), accepted=len(result.accepted), rejected=len(result.of_kind("rejected")),
                       failed=len(result.of_kind("failed")), accepted_total=self.quota.accepted_total)
        self.progress.update(self.quota, ledger, self.candidates)

    def _unwind(self, folder: Any, candidates: int, counters: dict[str, dict[str, int]]) -> None:
        """A batch whose records could not all be written (disk full): run.json must describe
        what is on disk, as after a kill. Counters and candidates go back to the last save
        (the side files are cut back to it on resume); quota counts are what data.jsonl holds.
        The ledger keeps the batch: that compute was spent."""
        self.candidates = candidates
        for step in self.pipeline.steps:
            step.counters.clear()
        self.pipeline.load_counters(counters)
        self.quota.counts.clear()
        for record in folder.existing_accepted():
            self.quota.add((record["domain"], record["complexity_measured"]))

    def process(self, items: list[Any], ledger: Any) -> BatchResult:
        """One batch: generate, then every step after the engine."""
        from synthgen.backends.base import GenerationRequest, SamplingSettings

        seeded = request_seeds_ok(self.backend)
        requests = []
        for item in items:
            grammar, max_tokens = grammar_for(item.complexity)
            sampling = SamplingSettings(temperature=self.config.temperature, max_tokens=max_tokens)
            requests.append(GenerationRequest(item.id, item.messages, sampling, grammar, item.seed if seeded else None))
        start = time.perf_counter()
        completions = self.backend.generate(requests)
        wall = time.perf_counter() - start
        ledger.charge(completions, wall, self.backend.accelerators, self.plan.spec.prices)
        log = getattr(self, "log", None)
        if log is not None:
            log.engine_call(self.plan.spec.alias, completions, wall, ledger)
        errors = [c.error for c in completions if c.finish_reason == "error"]
        self.failed_batches = self.failed_batches + 1 if completions and len(errors) == len(completions) else 0
        self.last_engine_error = errors[0] if errors else ""
        by_id = {item.id: item for item in items}
        share = wall * max(1, self.backend.accelerators) / max(1, len(completions))
        samples = [Sample(by_id[c.request_id], c, compute_s=share) for c in completions]
        result = self.pipeline.run(samples)
        self.dedup.settle(result.accepted)
        return result

    def _save(self, folder: Any, state: dict[str, Any], ledger: Any, status: str, why: str) -> None:
        state.update(
            status=status,
            stop_reason=why,
            candidates=self.candidates,
            counters=self.pipeline.counters() if hasattr(self, "pipeline") else state.get("counters", {}),
            ledger=ledger.to_dict(),
            quota={f"{d}/{c}": [self.quota.counts[(d, c)], n] for (d, c), n in self.quota.targets.items()},
        )
        if status != "running":
            state["summary"] = self.summary(state, ledger)
        folder.save_state(state)

    def _close(self) -> None:
        for backend in (self.backend, self._judge_backend):
            if backend is not None:
                backend.close()

    def summary(self, state: dict[str, Any], ledger: Any) -> dict[str, Any]:
        rejected: dict[str, int] = {}
        failed: dict[str, int] = {}
        failed_reasons = {"engine_error", "truncated", "malformed_output"}
        for reason, n in self.pipeline.drop_reasons().items():
            (failed if reason in failed_reasons else rejected)[reason] = n
        accepted = self.quota.accepted_total
        return {
            "run_id": state["run_id"],
            "output": str(self.config.output),
            "status": state.get("status", "running"),
            "stop_reason": state.get("stop_reason", ""),
            "stop_signal": state.get("stop_signal"),
            "accepted": accepted,
            "target": self.quota.target_total,
            "candidates": self.candidates,
            "rejected": rejected,
            "failed": failed,
            "ledger": ledger.to_dict(),
            "usd_per_accepted": ledger.usd / accepted if accepted else None,
            "gpu_seconds_per_accepted": ledger.gpu_seconds / accepted if accepted else None,
        }
