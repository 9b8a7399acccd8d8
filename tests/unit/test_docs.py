"""The reference docs name what the code does: every error code the hub can answer is documented."""

from __future__ import annotations

import re

from hub.domain import errors
from local.template import ROOT, load


def documented_codes() -> set[str]:
    table = (ROOT / "docs/errors.md").read_text()
    return set(re.findall(r"^\| [^|]+ \| `([A-Z_]+)` \|", table, flags=re.MULTILINE))


def codes_in_code() -> set[str]:
    """The code of every domain error class, every ``code="..."`` given at a raise, and the codes of
    the template's gateway responses."""
    classes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.HubError)}
    sources = [*(ROOT / "layers/hub/python/hub").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    raised = {code for path in sources for code in re.findall(r'code="([A-Z_]+)"', path.read_text())}
    gateway = set(re.findall(r'\\?"code\\?": \\?"([A-Z_]+)\\?"', (ROOT / "template.yaml").read_text()))
    return classes | raised | gateway


def test_every_error_code_the_hub_answers_is_in_the_error_reference():
    # Given the codes the layer, the functions and the template can answer
    answered = codes_in_code()
    # When they are compared with the table of docs/errors.md
    missing = answered - documented_codes()
    # Then none is missing
    assert answered, "no codes found: the scan itself is broken"
    assert not missing, f"codes missing from docs/errors.md: {sorted(missing)}"


def test_every_stack_parameter_is_in_the_configuration_reference():
    # Given the parameters of template.yaml and the parameter table of docs/configuration.md
    parameters = set(load().parameters)
    table = (ROOT / "docs/configuration.md").read_text().split("## Stack parameters", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    # Then each parameter is documented, and nothing documented is gone from the template
    assert parameters - documented == set(), f"undocumented parameters: {sorted(parameters - documented)}"
    assert documented - parameters == set(), f"documented but not in the template: {sorted(documented - parameters)}"
