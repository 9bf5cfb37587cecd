"""Every test builds an app, and werkzeug compiles two URL builders for each of the app's 160-odd
routes when the app is made: about a fifth of an average test's time. A test builds few URLs, so
here each builder is compiled when it is first used. Test-only; the app itself is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

_compile_builder = Rule._compile_builder


def _builder_compiled_when_used(self: Rule, append_unknown: bool = True) -> Callable[..., Any]:
    compiled: Callable[..., Any] | None = None

    def build(rule: Rule, *args: Any, **kwargs: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            compiled = _compile_builder(rule, append_unknown)
        return compiled(rule, *args, **kwargs)

    return build


def compile_url_builders_when_used() -> None:
    Rule._compile_builder = _builder_compiled_when_used  # type: ignore[method-assign]
