"""OpenHands V1 (software-agent-sdk) conversations: one JSON file per event, each with ``kind``.

Kinds: ``SystemPromptEvent``, ``MessageEvent`` (``llm_message`` in chat form, ``source``
user/agent), ``ActionEvent`` (``tool_name``, ``tool_call`` with JSON ``arguments``, the typed
``action``), ``ObservationEvent`` (``action_id``, ``observation`` with ``is_error`` /
``exit_code``), ``AgentErrorEvent`` and ``UserRejectObservation`` (the call failed or was
refused), plus state/condensation bookkeeping we ignore. Every ActionEvent is a tool call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from synthgen.traces import tools
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import Trace, parse_arguments
from synthgen.traces.tasks import strip_template

FORMAT = "openhands"


def is_v1_event(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("kind"), str) and value["kind"].endswith(
        ("Event", "Observation")) and "id" in value


def read(events: Iterable[dict[str, Any]], source_path: str, trace_id: str, limits: Limits,
         state: dict[str, Any] | None = None) -> Trace:
    b = TraceBuilder(FORMAT, source_path, limits)
    by_action: dict[str, Any] = {}
    first = last = None
    finished = False
    for event in events:
        kind = event.get("kind")
        first = first or event.get("timestamp")
        last = event.get("timestamp") or last
        if kind == "SystemPromptEvent":
            b.message("system", _text(event.get("system_prompt")))
        elif kind == "MessageEvent":
            message = event.get("llm_message") if isinstance(event.get("llm_message"), dict) else {}
            text = _text(message.get("content"))
            if event.get("source") == "user":
                b.prompt(strip_template(text))
                b.message("user", text)
            else:
                b.message("assistant", text)
        elif kind == "ActionEvent":
            call = _call(b, event)
            finished = finished or call.name == "finish"
            by_action[str(event.get("id"))] = call
            b.message("assistant", _text(event.get("thought")), calls=[call],
                      reasoning=event.get("reasoning_content"))
        elif kind in ("ObservationEvent", "AgentErrorEvent", "UserRejectObservation"):
            call = by_action.get(str(event.get("action_id"))) or b.by_id.get(str(event.get("tool_call_id")))
            observation = event.get("observation") if isinstance(event.get("observation"), dict) else {}
            failed = kind != "ObservationEvent" or bool(observation.get("is_error")) or \
                observation.get("exit_code") not in (None, 0, -1)
            if call is not None:
                call.failed = failed
            text = _text(observation.get("content")) if observation else str(event.get("error") or
                                                                                event.get("rejection_reason") or "")
            b.message("tool", text, tool_call_id=call.id if call else event.get("tool_call_id"))
    llm = _dig(state, "agent", "llm") or {}
    return b.finish(
        id=trace_id, outcome="finish" if finished else None, model=llm.get("model") if isinstance(llm, dict) else None,
        started_at=first, ended_at=last, variant="v1-events",
        cwd=_dig(state, "workspace", "working_dir") if isinstance(_dig(state, "workspace", "working_dir"), str) else None,
    )


def _call(b: TraceBuilder, event: dict[str, Any]):
    tool_call = event.get("tool_call") if isinstance(event.get("tool_call"), dict) else {}
    name = event.get("tool_name") or tool_call.get("name") or "?"
    raw = tool_call.get("arguments")
    args, malformed = parse_arguments(raw)
    action = event.get("action") if isinstance(event.get("action"), dict) else {}
    if malformed or not args:  # the typed action is what ran; the raw arguments may be broken
        typed = {k: v for k, v in action.items() if k != "kind"}
        return b.tool_call(name, raw if malformed else typed, id=event.get("tool_call_id") or tool_call.get("id"),
                           effect=tools.classify(name, typed))
    args = {k: v for k, v in args.items() if k not in ("security_risk", "summary")}
    return b.tool_call(name, args, id=event.get("tool_call_id") or tool_call.get("id"))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("text") or "")
    if isinstance(value, list):
        return "\n".join(str(v.get("text", "")) for v in value if isinstance(v, dict))
    return ""


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def load_state(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
