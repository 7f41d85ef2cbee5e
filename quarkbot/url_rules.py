"""URL rules whose URL builders are compiled on first use, not when the rule joins the map.

werkzeug turns each rule into two URL-building functions (``url_for``) when the rule is added:
an AST compiled with ``compile()``, about half a millisecond a rule, so most of 0.1 s of start-up
for quarkbot's ~150 routes, of which only the docs pages and the static files ever build a URL.
Matching (the rule's regex) is untouched; the only part of the builders' compilation that can
fail (converting a default value of a URL variable) still runs at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Quart
from quart.routing import QuartRule

Builder = Callable[..., tuple[str, str]]


class LazyBuildRule(QuartRule):
    def _compile_builder(self, append_unknown: bool = True) -> Builder:
        defaults = self.defaults or {}
        for is_dynamic, name in self._trace:
            if is_dynamic and name in defaults:
                self._converters[name].to_url(defaults[name])  # fails here, as werkzeug's would
        compile_builder = super()._compile_builder
        attribute = "_build_unknown" if append_unknown else "_build"

        def build(rule: LazyBuildRule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            compiled: Builder = compile_builder(append_unknown).__get__(rule, None)
            setattr(rule, attribute, compiled)  # later calls go straight to werkzeug's builder
            return compiled(*args, **kwargs)

        return build


class QuarkbotQuart(Quart):
    """Quart with :class:`LazyBuildRule` for every route (the static route included)."""

    url_rule_class = LazyBuildRule
