"""axe-core (the npm package, pinned in package.json) run in the browser tests' pages.

The checker is put into every page of a browser context as an init script, which the app's
strict Content-Security-Policy does not apply to; `findings` runs it on the page as it is now and
returns what fails WCAG 2.1 A/AA with an impact of "serious" or "critical", one line per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config import PROJECT_ROOT

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IMPACTS = ["serious", "critical"]

RUN = """async ([tags, impacts]) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations
    .filter(rule => impacts.includes(rule.impact))
    .flatMap(rule => rule.nodes.map(node => ({
      rule: rule.id,
      impact: rule.impact,
      target: node.target.join(" "),
      html: node.html.slice(0, 160),
      why: (node.failureSummary || "").split("\\n").slice(1).join(" ").trim(),
    })));
}"""


@dataclass(frozen=True)
class Finding:
    page: str
    language: str
    width: str
    rule: str
    impact: str
    target: str
    html: str
    why: str


def with_axe(context: object) -> None:
    """Put axe into every page the context opens from now on."""
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(PROJECT_ROOT)} is missing: run `make node-deps`")
    context.add_init_script(path=str(AXE))  # type: ignore[attr-defined]


def findings(page: object, name: str, language: str, width: str) -> list[Finding]:
    """The serious and critical WCAG 2.1 A/AA violations on the page as it is shown now."""
    found = page.evaluate(RUN, [TAGS, IMPACTS])  # type: ignore[attr-defined]
    return [Finding(name, language, width, **item) for item in found]


def report(found: list[Finding]) -> str:
    """One entry per rule and element, with every page, language and width it was found on."""
    where: dict[tuple[str, str, str, str, str], list[str]] = {}
    for f in found:
        key = (f.rule, f.impact, f.target, f.html, f.why)
        where.setdefault(key, []).append(f"{f.page} [{f.language}, {f.width} px]")
    lines = [
        f"{len(found)} serious or critical accessibility violations, "
        f"{len(where)} distinct (rule, element):"
    ]
    for (rule, impact, target, html, why), pages in sorted(where.items()):
        lines.append(f"- {rule} ({impact}): {target}\n    {html}\n    {why}")
        lines.append(f"    on {', '.join(pages)}")
    return "\n".join(lines)
