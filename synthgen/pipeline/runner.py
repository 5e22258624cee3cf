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

import math
import signal
from dataclasses import dataclass
from typing import Any

from synthgen.pipeline.config import DEFAULT_MODEL, RunConfig, fingerprint
from synthgen.pipeline.engine import EngineCall
from synthgen.pipeline.stopping import StopFlag, StopNow, held_signals, signal_label
from synthgen.records import Cell, Sample
from synthgen.runfolder.envelope import RecordContext, accepted_record, failed_record, rejected_record
from synthgen.steps.base import FAILED_REASONS, Pipeline, Step
from synthgen.steps.dedup import DedupIndex, DedupStep
from synthgen.steps.quota import Quota, QuotaStep
from synthgen.steps.repair import MAX_ROUNDS as MAX_REPAIR_ROUNDS

__all__ = ["DEFAULT_MODEL", "Plan", "RunConfig", "Runner", "candidates_for", "make_plan"]

MAX_COUNT = 1_000_000_000  # accepted examples one run may target
MAX_BATCH = 100_000
MAX_FAILED_BATCHES = 3  # stop rather than burn the candidate cap on a dead engine
# Below this acceptance rate the estimate is noise; never plan more than 1/MIN_RATE per need.
MIN_ACCEPTANCE_RATE = 0.05


@dataclass(slots=True)
class Plan:
    recipe: Any  # synthgen.recipes.base.Recipe
    targets: dict[Cell, int]
    spec: Any  # synthgen.models.ModelSpec


def make_plan(config: RunConfig) -> Plan:
    """Recipe, targets per cell and the model spec; all user errors surface here."""
    from synthgen.errors import ConfigError
    from synthgen.recipes import create_recipe

    if not 1 <= config.count <= MAX_COUNT:
        raise ConfigError(f"--count must be from 1 to {MAX_COUNT:,}, got {config.count}")
    if not 1 <= config.batch_size <= MAX_BATCH:
        raise ConfigError(f"--batch-size must be from 1 to {MAX_BATCH:,}, got {config.batch_size}")
    if config.max_candidates is not None and not 1 <= config.max_candidates <= 100 * MAX_COUNT:
        raise ConfigError(f"--max-candidates must be from 1 to {100 * MAX_COUNT:,}, got {config.max_candidates}")
    if not 0 <= config.seed < 2**63:
        raise ConfigError(f"--seed must be from 0 to 2**63 - 1, got {config.seed}")
    if config.repair_rounds is not None and not 0 <= config.repair_rounds <= MAX_REPAIR_ROUNDS:
        raise ConfigError(f"--repair-rounds must be from 0 to {MAX_REPAIR_ROUNDS}, got {config.repair_rounds}")
    for flag, value in (("--max-gpu-hours", config.max_gpu_hours), ("--max-cost", config.max_cost)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{flag} must be a positive finite number, got {value}")
    recipe = create_recipe(config.recipe, config.recipe_options, source=config.recipe_options_source)
    if config.validate_semantics and not recipe.has_judge:
        raise ConfigError(f"recipe {recipe.name!r} has no judge prompt", hint="leave out --validate-semantics")
    return Plan(recipe, recipe.targets(config.count), config.spec or _resolve(config.model))


def _resolve(alias: str) -> Any:
    from synthgen.models import resolve_model

    return resolve_model(alias)


def candidates_for(needed: int, acceptance_rate: float, cap_left: int) -> int:
    """How many candidates to request for ``needed`` more accepts, within the hard cap.

    ``acceptance_rate`` is the measured accepted/candidates so far (use 1.0 before any
    data); it is clamped to [MIN_ACCEPTANCE_RATE, 1] so a bad start can't ask for millions."""
    if needed <= 0 or cap_left <= 0:
        return 0
    rate = acceptance_rate if isinstance(acceptance_rate, int | float) and not math.isnan(acceptance_rate) else 1.0
    rate = min(1.0, max(MIN_ACCEPTANCE_RATE, rate))
    return min(cap_left, math.ceil(needed / rate - 1e-9))


def _backend_for(spec: Any, recipe: Any, overrides: dict[str, Any], endpoint: dict[str, Any] | None = None) -> Any:
    """A ready-to-load backend; a scripted one (the fake engine) answers with the recipe's hook;
    an endpoint's takes ``endpoint`` (timeouts, attempts) from the run options."""
    from synthgen.backends.registry import backend_class, create_backend

    cls = backend_class(spec.backend)
    if cls.answers_from_recipe:
        overrides = {**overrides, "answerer": recipe.fake_answer}
    if endpoint and cls.name == "openai":
        overrides = {**endpoint, **overrides}
    return create_backend(spec, **overrides)


def _one_line(exc: BaseException) -> str:
    from synthgen.errors import SynthgenError

    if isinstance(exc, SynthgenError):
        return exc.one_line()
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Runner:
    """One run: every piece of state is made here; ``run()`` opens the folder and loops."""

    def __init__(self, config: RunConfig, progress: Any = None) -> None:
        from synthgen.backends.registry import create_backend
        from synthgen.pipeline.budget import Budget, Ledger
        from synthgen.pipeline.progress import Progress

        self.config = config
        self.progress = progress or Progress(verbose=config.verbose)
        self.plan = make_plan(config)
        self.recipe = self.plan.recipe
        self.quota = Quota(self.plan.targets)
        self.budget = Budget(config.max_gpu_hours, config.max_cost)
        self.ledger = Ledger()
        self.candidates = 0
        self.failed_batches = 0  # consecutive batches in which every request failed in the engine
        self.last_engine_error = ""
        self.backend = _backend_for(self.plan.spec, self.recipe, config.backend_overrides, config.endpoint_options)
        self.engine = EngineCall(self.backend, self.plan.spec.alias, self.plan.spec.prices, self.ledger)
        self.judge_backend: Any = None  # a second engine, when the judge is another model
        self.judge_engine: EngineCall | None = None
        if config.validate_semantics:
            self.judge_engine, self.judge_backend = self._judge_engine(create_backend)
        self.dedup = DedupStep(DedupIndex(config.dedup, self.quota.targets))
        steps: list[Step] = list(self.recipe.check_steps())
        repair = self._repair_step()
        if repair is not None:
            steps.insert(0, repair)
        if self.judge_engine is not None:
            steps.append(_judge_step(self.judge_engine, self.recipe))
        self.pipeline = Pipeline([*steps, self.dedup, QuotaStep(self.quota)])
        self.planner: Any = self.recipe.planner(config.seed)
        self.log: Any = None
        self.stop = StopFlag()
        self.on_fallback = False  # the run goes on on config.fallback_spec

    def _judge_engine(self, create_backend: Any) -> tuple[EngineCall, Any]:
        alias = self.config.judge_model or self.plan.spec.alias
        if alias == self.plan.spec.alias:
            return EngineCall(self.backend, alias, self.plan.spec.prices, self.ledger), None
        spec = _resolve(alias)
        backend = _backend_for(spec, self.recipe, {})
        return EngineCall(backend, alias, spec.prices, self.ledger), backend

    def _repair_step(self) -> Step | None:
        """The repair step, first, where it can act: the recipe checks its outputs and the
        run asked for rounds, or left the default and runs (or may fall back) on an endpoint."""
        from synthgen.steps.repair import RepairStep

        setting = self.config.repair_rounds
        if not self.recipe.has_repair or setting == 0:
            return None
        if setting is None and not self.engine.remote and self.config.fallback_spec is None:
            return None
        return RepairStep(self.engine, self.recipe.repair_problems, self._request_for, setting)

    def _request_for(self, item: Any) -> Any:
        return self.recipe.request_for(item, temperature=self.config.temperature, seeded=self.backend.supports_request_seed)

    # -- set-up --------------------------------------------------------------------------

    def _restore(self, folder: Any, state: dict[str, Any]) -> int:
        """Quota counts and dedup index from the accepted records; the next plan index."""
        next_index = int(state.get("plan_next_index", 0))
        for record in folder.existing_accepted():
            cell = self.recipe.cell_of(record)
            self.quota.add(cell)
            exact = (record.get("validation") or {}).get("hashes", {}).get("exact")
            self.dedup.index.add_record(record["id"], cell, self.recipe.keys_of(record), exact)
            next_index = max(next_index, int(record["provenance"].get("plan_index", -1)) + 1)
        self.candidates = int(state.get("candidates", 0))
        self.pipeline.load_counters(state.get("counters"))
        return next_index

    # -- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from synthgen.runfolder.folder import LOG_FILE, RunFolder
        from synthgen.runfolder.log import RunLogger

        cfg = self.config
        fp = fingerprint(cfg, self.recipe, self.plan.spec)
        with self.stop, RunFolder(cfg.output, resume=cfg.resume, fingerprint=fp) as folder:
            for line in [*folder.notes, *folder.repairs]:
                self.progress.message(line)
            # The folder's own state (saved when it was first opened, or by an earlier
            # attempt): one run_id for every record of the run, however often it restarts.
            state = folder.state
            state["resume_command"] = cfg.resume_command or state.get("resume_command", "")
            state["recipe_ref"] = cfg.recipe  # how to load the recipe again (export, report): a name or module:Class
            state["model_license"] = self.plan.spec.license or None  # the dataset card names it
            self.ledger.load(state.get("ledger"))
            self.planner = self.recipe.planner(cfg.seed, start_index=self._restore(folder, state))
            ctx = self._context(state["run_id"])
            with RunLogger(folder.path / LOG_FILE) as self.log:
                self.engine.log = self.log
                if self.judge_engine is not None:
                    self.judge_engine.log = self.log  # the judge's calls are logged like generation's
                for line in self.recipe.describe(cfg.count):
                    self.progress.message(line)
                return self._loop(folder, state, ctx)

    def _context(self, run_id: str) -> RecordContext:
        spec = self.plan.spec
        revision = spec.source.revision if spec.source else None
        return RecordContext(run_id=run_id, backend=self.backend.source_label, model=spec.alias,
                             model_revision=revision, plan_seed=self.config.seed)

    def _loop(self, folder: Any, state: dict[str, Any], ctx: RecordContext) -> dict[str, Any]:
        from synthgen.errors import BackendError, OutputError
        from synthgen.runfolder.state import STATUS_FAILED, STATUS_INTERRUPTED
        from synthgen.runfolder.state import stopped as stopped_status

        def stopped_engine() -> str:
            return stopped_status("engine")

        status, why = "running", ""
        error: BaseException | None = None
        loaded = False  # an engine that never started (bad model, too big): resuming won't help
        stop = self.stop
        state.pop("stop_signal", None)
        self.progress.start(self.quota)
        try:
            self.log.event("start", run_id=ctx.run_id, model=ctx.model, recipe=self.recipe.name, resume=self.config.resume,
                           targets=self.quota.target_total, accepted_on_disk=self.quota.accepted_total,
                           plan_next_index=self.planner.next_index)
            if not self.quota.done and stop.signum is None:
                try:
                    self.backend.load()
                except BackendError as exc:
                    if not self._can_fall_back():
                        raise
                    ctx = self._fall_back(state, ctx, f"{ctx.model} could not start: {_one_line(exc)}")
                self._record_placement(state)
                if self.judge_backend is not None:
                    self.judge_backend.load()
            loaded = True
            while status == "running":
                status, why = self._should_stop(stop)
                if status == stopped_engine() and self._can_fall_back():
                    ctx = self._fall_back(state, ctx, why)
                    status = "running"
                if status == "running":
                    try:
                        self._batch(folder, state, ctx)
                    except BackendError as exc:
                        # the engine died with a batch in flight: nothing of it was written (the
                        # planner moved past its items); the run goes on on the fallback endpoint
                        if stop.signum is not None or not self._can_fall_back():
                            raise
                        ctx = self._fall_back(state, ctx, f"{ctx.model} died mid-run: {_one_line(exc)}")
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
                with held_signals():  # a stop signal now would leave run.json's last status stale
                    self._save(folder, state, status, why)
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
        return self.summary(state)

    def _can_fall_back(self) -> bool:
        return self.config.fallback_spec is not None and not self.on_fallback

    def _fall_back(self, state: dict[str, Any], ctx: RecordContext, reason: str) -> RecordContext:
        """Go on with the fallback endpoint in the same run folder: the next records name it in
        their provenance; the ledger goes on counting (the endpoint's prices from now on)."""
        import dataclasses

        spec = self.config.fallback_spec
        try:
            self.backend.close()
        except Exception:  # noqa: BLE001 - the engine is gone already; what is left of it is the reaper's
            pass
        shared_judge = self.judge_engine is not None and self.judge_engine.backend is self.backend
        self.backend = _backend_for(spec, self.recipe, {}, self.config.endpoint_options)
        self.engine.backend, self.engine.model, self.engine.prices = self.backend, spec.alias, spec.prices
        if shared_judge and self.judge_engine is not None:  # a judge that was the generator is the fallback now
            self.judge_engine.backend, self.judge_engine.model, self.judge_engine.prices = self.backend, spec.alias, spec.prices
        self.on_fallback = True
        self.failed_batches = 0
        self.progress.message(f"falling back to {spec.alias}: {reason}")
        self.log.event("fallback", model=ctx.model, fallback=spec.alias, reason=reason)
        state.setdefault("fallbacks", []).append({"from": ctx.model, "to": spec.alias, "reason": reason[:500]})
        self.backend.load()
        return dataclasses.replace(ctx, backend=self.backend.source_label, model=spec.alias, model_revision=None)

    def _record_placement(self, state: dict[str, Any]) -> None:
        """The engine's tensor parallel size, replicas and why (vLLM sets it when it starts)."""
        placement = getattr(self.backend, "placement", None)
        if placement is None:
            return
        state["placement"] = placement.to_dict()
        self.log.event("placement", **state["placement"])
        self.progress.message(placement.line())

    def _should_stop(self, stop: StopFlag) -> tuple[str, str]:
        from synthgen.runfolder.state import STATUS_COMPLETED, STATUS_INTERRUPTED, stopped

        if self.quota.done:
            return STATUS_COMPLETED, "every quota met"
        if stop.signum is not None:
            return STATUS_INTERRUPTED, f"interrupted ({signal_label(stop.signum)}); everything accepted so far is saved"
        over = self.budget.exceeded(self.ledger)
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

    def _batch(self, folder: Any, state: dict[str, Any], ctx: RecordContext) -> None:

        needed = self.quota.needed()
        rate = self.quota.accepted_total / self.candidates if self.candidates else 1.0
        n = min(self.config.batch_size, candidates_for(sum(needed.values()), rate, self.config.cap - self.candidates))
        before = self._batch_fields(self.planner.next_index)
        items = self.planner.next_items(needed, max(1, n))
        result = self.process(items)
        self.candidates += len(items)
        recipe = self.recipe
        records = {"accepted": [accepted_record(s, ctx, recipe) for s in result.accepted],
                   "rejected": [rejected_record(d, ctx, recipe) for d in result.of_kind("rejected")],
                   "failed": [failed_record(d, ctx, recipe) for d in result.of_kind("failed")]}
        # On an error the batch stays pending in ``state``; _save (in _loop's finally) settles it.
        folder.commit_batch(state, records, before, self._batch_fields(self.planner.next_index))
        self.log.event("batch", candidates=len(items), accepted=len(result.accepted), rejected=len(result.of_kind("rejected")),
                       failed=len(result.of_kind("failed")), accepted_total=self.quota.accepted_total)
        self.progress.update(self.quota, self.ledger, self.candidates)

    def _unwind(self, folder: Any, candidates: int, counters: dict[str, dict[str, int]]) -> None:
        """A batch that is not on disk (a failed write, a stop inside its commit): run.json
        must describe what the files hold. Counters and candidates go back to before it,
        quota counts are what data.jsonl holds. The ledger keeps the batch: that compute was
        spent."""
        self.candidates = candidates
        self.pipeline.load_counters(counters)
        self.quota.counts.clear()
        for record in folder.existing_accepted():
            self.quota.add(self.recipe.cell_of(record))

    def process(self, items: list[Any]) -> Any:
        """One batch: generate (through the one engine-call path), then every step."""
        requests = [self._request_for(item) for item in items]
        completions = self.engine.call(requests)
        wall = self.engine.last_wall_s
        errors = [c.error for c in completions if c.finish_reason == "error"]
        self.failed_batches = self.failed_batches + 1 if completions and len(errors) == len(completions) else 0
        self.last_engine_error = errors[0] if errors else ""
        by_id = {item.id: item for item in items}
        share = wall * max(1, self.backend.accelerators) / max(1, len(completions))
        samples = [Sample(by_id[c.request_id], c, compute_s=share) for c in completions]
        return self.pipeline.run(samples)

    def _batch_fields(self, plan_next_index: int) -> dict[str, Any]:
        """The state a batch changes, as it is now (``commit_batch``'s before and after)."""
        return {"candidates": self.candidates, "counters": self.pipeline.counters(), "ledger": self.ledger.to_dict(),
                "quota": self.quota.progress(), "plan_next_index": plan_next_index}

    def _save(self, folder: Any, state: dict[str, Any], status: str, why: str) -> None:
        if "pending" in state:  # a stop inside a batch's commit: finish it first, as the next open would
            if folder.settle(state) == "back":
                self._unwind(folder, int(state.get("candidates", 0)), state.get("counters") or {})
        state.update(
            status=status,
            stop_reason=why,
            candidates=self.candidates,
            counters=self.pipeline.counters(),
            ledger=self.ledger.to_dict(),
            quota=self.quota.progress(),
        )
        if status != "running":
            state["summary"] = self.summary(state)
        folder.save_state(state)

    def _close(self) -> None:
        for backend in (self.backend, self.judge_backend):
            if backend is not None:
                backend.close()
        self.recipe.close()

    def _repair_summary(self) -> dict[str, Any] | None:
        """The repair step's counts (``None``: no repair step in this run)."""
        step = next((s for s in self.pipeline.steps if s.name == "repair"), None)
        return None if step is None else _repair_counts(dict(step.counters))

    def summary(self, state: dict[str, Any]) -> dict[str, Any]:
        rejected: dict[str, int] = {}
        failed: dict[str, int] = {}
        for reason, n in self.pipeline.drop_reasons().items():
            (failed if reason in FAILED_REASONS else rejected)[reason] = n
        accepted = self.quota.accepted_total
        ledger = self.ledger
        return {
            "run_id": state["run_id"],
            "output": str(self.config.output),
            "recipe": self.recipe.name,
            "status": state.get("status", "running"),
            "stop_reason": state.get("stop_reason", ""),
            "stop_signal": state.get("stop_signal"),
            "accepted": accepted,
            "target": self.quota.target_total,
            "candidates": self.candidates,
            "rejected": rejected,
            "failed": failed,
            "ledger": ledger.to_dict(),
            "repair": self._repair_summary(),
            "usd_per_accepted": ledger.usd / accepted if accepted else None,
            "gpu_seconds_per_accepted": ledger.gpu_seconds / accepted if accepted else None,
            "prefix_cache_hit_rate": ledger.prefix_cache_hit_rate,
        }


def _repair_counts(counters: dict[str, int]) -> dict[str, Any]:
    rounds = {key.removeprefix("repaired_round_"): n for key, n in sorted(counters.items()) if key.startswith("repaired_round_")}
    return {"checked": counters.get("total", 0), "repaired_ok": counters.get("repaired_ok", 0),
            "repair_failed": counters.get("repair_failed", 0), "requests": counters.get("repair_requests", 0),
            "rounds": rounds}


def _judge_step(engine: EngineCall, recipe: Any) -> Step:
    from synthgen.steps.judge import JudgeStep

    return JudgeStep(engine, engine.model, recipe.judge_messages)
