"""Framework hints: what stack a trace works in, from paths, config files, imports, commands.

Hints, not facts: a ``package.json`` seen, ``from django`` in an edit, ``pytest`` run in a
shell. The recipe uses them to keep generated tasks in the stacks the traces really use.
"""

from __future__ import annotations

import posixpath
import re

CONFIG_FILES = {
    "pyproject.toml": "python-packaging", "setup.py": "python-packaging", "setup.cfg": "python-packaging",
    "requirements.txt": "pip", "package.json": "node", "tsconfig.json": "typescript", "go.mod": "go-modules",
    "Cargo.toml": "cargo", "pom.xml": "maven", "build.gradle": "gradle", "build.gradle.kts": "gradle",
    "Gemfile": "bundler", "mix.exs": "mix", "composer.json": "composer", "manage.py": "django",
    "conftest.py": "pytest", "pytest.ini": "pytest", "tox.ini": "tox", "Dockerfile": "docker",
    "docker-compose.yml": "docker", "CMakeLists.txt": "cmake", "Makefile": "make", "_config.yml": "jekyll",
    "environment.yml": "conda", "CLAUDE.md": "claude-code",
}
_PREFIXES = {"next.config.": "nextjs", "vite.config.": "vite", "jest.config.": "jest", "tailwind.config.": "tailwind",
             "webpack.config.": "webpack", "vitest.config.": "vitest", "eslint.config.": "eslint",
             ".eslintrc": "eslint", "angular.json": "angular", "svelte.config.": "svelte", "nuxt.config.": "nuxt"}
MODULES = {
    "django": "django", "flask": "flask", "fastapi": "fastapi", "pytest": "pytest", "numpy": "numpy",
    "pandas": "pandas", "matplotlib": "matplotlib", "sklearn": "scikit-learn", "torch": "pytorch",
    "tensorflow": "tensorflow", "sympy": "sympy", "astropy": "astropy", "xarray": "xarray", "seaborn": "seaborn",
    "requests": "requests", "pygame": "pygame", "marshmallow": "marshmallow", "sphinx": "sphinx", "pylint": "pylint",
    "react": "react", "next": "nextjs", "vue": "vue", "express": "express", "zod": "zod", "jest": "jest",
    "pydantic": "pydantic", "sqlalchemy": "sqlalchemy", "typer": "typer", "click": "click", "rich": "rich",
    "pvlib": "pvlib", "pyvista": "pyvista", "scipy": "scipy", "transformers": "transformers", "librosa": "librosa",
    "phoenix": "phoenix", "svelte": "svelte", "angular": "angular", "tailwindcss": "tailwind", "vitest": "vitest",
}
_IMPORT = re.compile(r"^[+\s]*(?:from\s+([A-Za-z_][\w]*)[\w.]*\s+import|import\s+([A-Za-z_][\w]*))", re.M)
_JS_IMPORT = re.compile(r"(?:from\s+|require\()\s*['\"](@?[\w-]+)")
_COMMANDS = (
    (re.compile(r"\bpytest\b|python -m pytest"), "pytest"), (re.compile(r"\bnpm (?:run|test|install|i)\b"), "npm"),
    (re.compile(r"\bcreate-next-app\b|\bnext (?:dev|build)\b"), "nextjs"), (re.compile(r"\bcargo (?:build|test|run)\b"),
                                                                           "cargo"),
    (re.compile(r"\bgo (?:test|build|run)\b"), "go-modules"), (re.compile(r"\bmix phx\.|\bmix test\b"), "phoenix"),
    (re.compile(r"\bmanage\.py\b"), "django"), (re.compile(r"\byarn\b|\bpnpm\b"), "node"),
    (re.compile(r"\bconda (?:create|activate|install)\b"), "conda"), (re.compile(r"\bdocker (?:build|run)\b"), "docker"),
    (re.compile(r"\bjupyter\b"), "jupyter"),
)


def from_paths(paths: list[str]) -> set[str]:
    hints = set()
    for path in paths:
        name = posixpath.basename(path)
        if name in CONFIG_FILES:
            hints.add(CONFIG_FILES[name])
        for prefix, hint in _PREFIXES.items():
            if name.startswith(prefix):
                hints.add(hint)
        if "/.github/workflows/" in f"/{path}":
            hints.add("github-actions")
        if name.endswith(".ipynb"):
            hints.add("jupyter")
    return hints


def from_text(text: str) -> set[str]:
    """Known frameworks imported in code (edits, diffs) or invoked in shell commands."""
    hints = set()
    for match in _IMPORT.finditer(text):
        module = match.group(1) or match.group(2)
        if module in MODULES:
            hints.add(MODULES[module])
    for match in _JS_IMPORT.finditer(text):
        module = match.group(1).lstrip("@")
        if module in MODULES:
            hints.add(MODULES[module])
    for pattern, hint in _COMMANDS:
        if pattern.search(text):
            hints.add(hint)
    return hints
