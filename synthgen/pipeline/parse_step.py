"""Parse: turn a raw completion into (request, dot), or a counted failure.

Failures here are the engine's, not the data's: an error, an output cut off at
``max_tokens`` (invalid however it was constrained), or text that does not follow the
generation output format. They go to ``failed_prompts.jsonl`` with the prompt and raw text.
"""

from __future__ import annotations

from synthgen.errors import SynthgenError
from synthgen.pipeline.steps import Sample, Step


class ParseStep(Step):
    name = "parse"

    def __init__(self) -> None:
        super().__init__()
        from synthgen.dot.gen_grammar import split_output

        self._split = split_output

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            comp = sample.completion
            if comp.finish_reason == "error":
                self.drop(sample, "engine_error", comp.error or "engine error", kind="failed")
            elif comp.finish_reason == "length":
                self.drop(sample, "truncated", f"cut off at {comp.completion_tokens} tokens", kind="failed")
            elif self._split_into(sample):
                kept.append(sample)
        return kept

    def _split_into(self, sample: Sample) -> bool:
        try:
            parts = self._split(sample.completion.text)
        except (ValueError, SynthgenError) as exc:
            self.drop(sample, "malformed_output", " ".join(str(exc).split())[:300], kind="failed")
            return False
        if not parts or not parts[1].strip():
            self.drop(sample, "malformed_output", "no DOT in the output", kind="failed")
            return False
        request, dot = parts
        sample.request, sample.dot = request.strip(), dot.strip()
        if not sample.request:
            self.drop(sample, "empty_request", "the request text is empty")
            return False
        return True
