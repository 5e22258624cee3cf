"""Real agent traces in: readers for SWE-agent, mini-SWE-agent, OpenHands, Claude Code and aider
(``read.read_traces``), one normalized ``model.Trace``, and ``patterns.TracePatterns`` mined from
them. Standard library only, so importing it costs nothing."""
