"""Graphviz itself as the oracle: many graphs per process, a verdict for every graph.

Why batches: starting `nop` costs ~5 ms while parsing a graph costs ~0.1 ms, so one process
per graph spends >90% of its time starting up. Graphviz reads a stream of graphs, but it
stops at the first syntax error and says only "line N" of the whole stream. So between two
texts we put a separator graph with a unique name (``graph __sg_<nonce>_<i> {}``); Graphviz
echoes every graph it accepted, and the separators it echoed say exactly which texts passed.
The first text whose separator is missing is re-checked alone (clean message, its own line
numbers) and the batch resumes after it. A crash or a timeout loses buffered output, so the
unresolved rest is bisected down to single graphs, which get a ``graphviz`` or ``timeout``
verdict: one bad graph never stops a run.

Texts already known to parse (synthgen's grammar agrees with Graphviz on its whole test
corpus) take a quicker road first: the batch goes to ``nop -p``, which checks and prints
nothing. Exit 0 without an error vouches for every text in it (warnings carry a line number
that says whose they are); anything else sends the batch down the echo road above. Echoing and scanning the output
cost 2-3x the parse itself.

Two programs: ``nop`` parses only (the reference verdict of the test corpus; default), and
``dot -Tcanon`` also lays out (``layout=True``): stricter, ~7x slower, and Graphviz 2.43
aborts or hangs in layout on some graphs it parses fine.
"""

from __future__ import annotations

import bisect
import re
import secrets
import shutil
import signal
import subprocess
from collections import deque
from dataclasses import asdict, dataclass

from synthgen.errors import SynthgenError

_LINE = re.compile(r"\bline (\d+)\b")
_STDIN_PREFIX = re.compile(r"^(Error|Warning):\s*(<stdin>:\s*)?|\s+of <stdin>")
_GRAPH_HEAD = re.compile(rb"^(?:strict )?(?:di)?graph\b", re.MULTILINE | re.IGNORECASE)


class GraphvizNotFound(SynthgenError):
    """The Graphviz programs are not installed (or not on PATH)."""

    exit_code = 2

    def __init__(self, program: str) -> None:
        super().__init__(
            f"Graphviz program {program!r} not found on PATH",
            hint="install Graphviz (apt-get install graphviz / brew install graphviz) or pass --no-graphviz",
        )


@dataclass(slots=True)
class GraphvizResult:
    """Graphviz's verdict on one text. ``reason``: ok, graphviz, timeout or not_dot."""

    ok: bool
    reason: str = "ok"
    message: str = ""
    line: int | None = None
    graphs: int = 1
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(slots=True)
class _Run:
    """One Graphviz process: what it printed and how it ended."""

    rc: int | None  # None: killed by our timeout
    stdout: bytes
    stderr: str

    @property
    def crashed(self) -> bool:
        return self.rc is None or self.rc < 0 or self.rc > 1


class GraphvizChecker:
    """Check texts with as few Graphviz processes as the errors allow.

    ``batch_size`` graphs (and at most ~``batch_bytes``) go to one process; ``timeout_s`` bounds each process (a batch or a
    single graph); ``max_memory_mb`` caps a process's address space so a pathological graph
    fails instead of swapping the machine. Safe to reuse across calls; not thread-safe.
    """

    def __init__(
        self,
        *,
        batch_size: int = 256,
        timeout_s: float = 30.0,
        layout: bool = False,
        max_memory_mb: int | None = 4096,
        batch_bytes: int = 4_000_000,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.layout = layout
        self.max_memory_mb = max_memory_mb
        self.batch_bytes = batch_bytes
        self.processes = 0  # processes started so far (for benchmarks and reports)
        self._argv: list[str] | None = None

    @property
    def program(self) -> str:
        return "dot" if self.layout else "nop"

    def check(self, texts: list[str] | list[bytes], *, graphs: list[int] | None = None) -> list[GraphvizResult]:
        """One result per text, in order. Never raises for a bad graph.

        ``graphs``: how many graphs each text holds, for texts that already passed synthgen's
        DOT grammar (complete graphs, nothing after them). Such batches are first checked by
        ``nop -p`` without echoing; the counts stand in for the echo's count.
        """
        data = [_to_bytes(t) for t in texts]
        if graphs is not None and len(graphs) != len(data):
            raise ValueError("graphs must give one count per text")
        results: list[GraphvizResult | None] = [None] * len(data)
        queue: deque[list[int]] = deque()
        batchable = []
        for i, blob in enumerate(data):
            # A NUL byte ends Graphviz's input silently: such a text can't share a stream.
            (queue.append([i]) if b"\0" in blob else batchable.append(i))
        for group in self._groups(batchable, data):
            if graphs is None or self.layout or not self._vouch(group, data, graphs, results):
                queue.append(group)
        while queue:
            group = queue.popleft()
            if len(group) == 1:
                results[group[0]] = self.check_one(data[group[0]])
            else:
                queue.extendleft(reversed(self._check_group(group, data, results)))
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _groups(self, indices: list[int], data: list[bytes]) -> list[list[int]]:
        """Batches of at most ``batch_size`` texts and ~``batch_bytes`` bytes."""
        groups: list[list[int]] = [[]]
        size = 0
        for i in indices:
            if groups[-1] and (len(groups[-1]) >= self.batch_size or size + len(data[i]) > self.batch_bytes):
                groups.append([])
                size = 0
            groups[-1].append(i)
            size += len(data[i])
        return [g for g in groups if g]

    def check_one(self, text: str | bytes) -> GraphvizResult:
        """A single text in its own process: Graphviz's own message and line numbers."""
        run = self._run(_to_bytes(text))
        if run.rc is None:
            return GraphvizResult(False, "timeout", f"{self.program} did not finish within {self.timeout_s:g} s", graphs=0)
        errors, warnings = _split_stderr(run.stderr)
        if run.crashed:
            detail = f": {errors[0]}" if errors else ""
            return GraphvizResult(False, "graphviz", f"{self.program} crashed ({_describe_rc(run.rc)}){detail}", graphs=0)
        if run.rc != 0:
            message = "; ".join(errors[:3]) if errors else f"{self.program} exited with status {run.rc}"
            return GraphvizResult(False, "graphviz", message, _line_of(message), graphs=0, warnings=warnings)
        graphs = len(_GRAPH_HEAD.findall(run.stdout))
        if graphs == 0:
            return GraphvizResult(False, "not_dot", "Graphviz found no graph in the text", graphs=0, warnings=warnings)
        return GraphvizResult(True, graphs=graphs, warnings=warnings)

    def _vouch(self, group: list[int], data: list[bytes], graphs: list[int], results: list) -> bool:
        """The quiet road: True (results filled) when ``nop -p`` passes the batch without a word."""
        if any(graphs[i] < 1 for i in group):
            return False
        stream, starts = _join(group, data, secrets.token_hex(4))
        run = self._run(stream, quiet=True)
        errors, warnings = _split_stderr(run.stderr)
        if run.rc != 0 or errors:
            return False
        by_text, unplaced = _place_warnings(warnings, starts)
        if unplaced:
            return False  # a warning without a line number: the echo road can place it
        for k, i in enumerate(group):
            results[i] = GraphvizResult(True, graphs=graphs[i], warnings=tuple(by_text.get(k, ())))
        return True

    def _check_group(self, group: list[int], data: list[bytes], results: list) -> list[list[int]]:
        """Run one batch; fill the results it settles; return the groups still to check."""
        nonce = secrets.token_hex(4)
        stream, starts = _join(group, data, nonce)
        run = self._run(stream)
        seen, segments = _separators(run.stdout, nonce, len(group))
        if run.crashed or (run.rc != 0 and seen == len(group)):
            # Output lost in a crash, or an error we can't place: split and look closer.
            seen = 0 if run.rc != 0 and seen == len(group) else seen
            self._settle(group[:seen], segments, run, starts, results)
            rest = group[seen:]
            half = (len(rest) + 1) // 2
            return [part for part in (rest[:half], rest[half:]) if part]
        self._settle(group[:seen], segments, run, starts, results)
        rest = group[seen:]
        if not rest:
            return []
        # Graphviz stopped at (or was derailed by) the first text whose separator is missing.
        return [rest[:1]] + ([rest[1:]] if len(rest) > 1 else [])

    def _settle(self, passed: list[int], segments: list[bytes], run: _Run, starts: list[int], results: list) -> None:
        """Texts whose separator came back passed; give each its own located warnings."""
        _, warnings = _split_stderr(run.stderr)
        by_text, _ = _place_warnings(warnings, starts)
        for k, index in enumerate(passed):
            graphs = len(_GRAPH_HEAD.findall(segments[k]))
            if graphs == 0:
                results[index] = GraphvizResult(False, "not_dot", "Graphviz found no graph in the text", graphs=0)
            else:
                results[index] = GraphvizResult(True, graphs=graphs, warnings=tuple(by_text.get(k, ())))

    def _run(self, stream: bytes, *, quiet: bool = False) -> _Run:
        self.processes += 1
        try:
            proc = subprocess.run(
                [*self._command(), "-p"] if quiet else self._command(),
                input=stream,
                capture_output=True,
                timeout=self.timeout_s,
                preexec_fn=self._limit_memory if self.max_memory_mb else None,
            )
        except subprocess.TimeoutExpired as exc:
            return _Run(None, exc.stdout or b"", (exc.stderr or b"").decode("utf-8", "replace"))
        return _Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))

    def _command(self) -> list[str]:
        if self._argv is None:
            path = shutil.which(self.program)
            if path is None:
                raise GraphvizNotFound(self.program)
            self._argv = [path, "-Tcanon"] if self.layout else [path]
        return self._argv

    def _limit_memory(self) -> None:  # runs in the child, before exec
        import resource

        limit = int(self.max_memory_mb) * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:  # under `ulimit -v` the hard limit can't be raised: stay under it
            limit = min(limit, hard)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        except (ValueError, OSError):
            pass  # the limit already in force bounds Graphviz


def graphviz_available(layout: bool = False) -> bool:
    return shutil.which("dot" if layout else "nop") is not None


def _to_bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


def _join(group: list[int], data: list[bytes], nonce: str) -> tuple[bytes, list[int]]:
    """The batch stream and the 1-based line where each text starts in it."""
    parts: list[bytes] = []
    starts: list[int] = []
    line = 1
    for k, index in enumerate(group):
        blob = data[index]
        starts.append(line)
        # "\n" first: a trailing // comment must not swallow the separator.
        parts += [blob, b"\ngraph __sg_%s_%d {}\n" % (nonce.encode(), k)]
        line += blob.count(b"\n") + 2
    return b"".join(parts), starts


def _separators(stdout: bytes, nonce: str, count: int) -> tuple[int, list[bytes]]:
    """How many texts in a row had their separator echoed, and each one's echoed output."""
    marker = re.compile(rb"^(strict )?graph __sg_%s_(\d+) \{\n" % nonce.encode(), re.MULTILINE)
    segments: list[bytes] = []
    position = 0
    for match in marker.finditer(stdout):
        if match.group(1) or int(match.group(2)) != len(segments):
            break  # a text that swallowed its separator ("strict" at its end) or lost order
        segments.append(stdout[position : match.start()])
        end = stdout.find(b"\n}\n", match.end() - 1)
        position = len(stdout) if end < 0 else end + 3
        if len(segments) == count:
            break
    return len(segments), segments


def _split_stderr(stderr: str) -> tuple[list[str], tuple[str, ...]]:
    errors: list[str] = []
    warnings: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Warning"):
            warnings.append(_STDIN_PREFIX.sub("", line))
        elif "CRITICAL" not in line:  # Pango chatter
            errors.append(_STDIN_PREFIX.sub("", line))
    return errors, tuple(warnings)


def _line_of(message: str) -> int | None:
    match = _LINE.search(message)
    return int(match.group(1)) if match else None


def _place_warnings(warnings: tuple[str, ...], starts: list[int]) -> tuple[dict[int, list[str]], int]:
    """Each warning on the text (position in the batch) holding its stream line, renumbered to
    that text's own lines; and how many warnings named no line."""
    by_text: dict[int, list[str]] = {}
    unplaced = 0
    for warning in warnings:
        line = _line_of(warning)
        if line is None:
            unplaced += 1
            continue
        k = _text_at_line(starts, line)
        by_text.setdefault(k, []).append(_LINE.sub(f"line {line - starts[k] + 1}", warning, count=1))
    return by_text, unplaced


def _text_at_line(starts: list[int], line: int) -> int:
    return max(0, bisect.bisect_right(starts, line) - 1)


def _describe_rc(rc: int | None) -> str:
    if rc is not None and rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return f"signal {-rc}"
    return f"exit status {rc}"
