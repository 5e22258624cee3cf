"""The coding-tasks recipe: real coding-agent traces in, new coding tasks out.

Seed traces (``synthgen.traces``) give the task kinds, repositories, files, languages and
tool habits of a team's real work; the recipe plans new tasks in those proportions
(cells of repository x task kind), asks for each under a JSON schema (prompt, target
files, expected tools, language, and a plan of tool calls that answers it), and checks
what comes back: files plausible for the seeds or the checkout, tools from the seeds'
vocabulary, language consistent, kind agreeing with the classifier, no copy of a seed.
"""
