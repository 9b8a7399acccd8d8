"""AWS is reached through ``hub.aws`` alone: no other module of the layer, and no function's own code,
imports boto3 or botocore (at module level or inside a function)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from local.template import ROOT

LAYER = ROOT / "layers/hub/python"
AWS_SDK = {"boto3", "botocore"}


def sdk_imports(path: Path) -> Iterator[str]:
    """Each ``import`` of boto3 or botocore in ``path``, as ``line: statement``."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
        else:
            continue
        if any(module.split(".")[0] in AWS_SDK for module in modules):
            yield f"{node.lineno}: {ast.unparse(node)}"


def layer_modules() -> list[str]:
    return sorted(path.relative_to(LAYER).as_posix() for path in (LAYER / "hub").rglob("*.py"))


def sdk_use_outside_aws(paths: list[Path], root: Path) -> dict[str, list[str]]:
    found = {path.relative_to(root).as_posix(): list(sdk_imports(path)) for path in paths}
    return {name: imports for name, imports in found.items() if imports}


def test_only_the_aws_modules_of_the_layer_import_the_aws_sdk():
    # Given every module of the layer but those of hub/aws/
    paths = [LAYER / name for name in layer_modules() if not name.startswith("hub/aws/")]
    # Then none imports boto3 or botocore, anywhere in it
    assert sdk_use_outside_aws(paths, LAYER) == {}


def test_the_functions_reach_aws_through_the_layer():
    # Given every function's own code
    paths = sorted((ROOT / "functions").rglob("*.py"))
    assert paths
    # Then none imports boto3 or botocore
    assert sdk_use_outside_aws(paths, ROOT) == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    # Given a module importing botocore only inside a function
    module = tmp_path / "late.py"
    module.write_text("def call():\n    from botocore.exceptions import ClientError\n    return ClientError\n")
    # Then the check sees it
    assert list(sdk_imports(module)) == ["2: from botocore.exceptions import ClientError"]


def test_every_error_code_is_declared_in_the_errors_module():
    # Given every module of the layer but the one that declares the domain errors
    paths = [LAYER / name for name in layer_modules() if name != "hub/domain/errors.py"]
    # Then none makes up a code where it raises (a code is a class of hub/domain/errors.py)
    made_up = {
        path.relative_to(LAYER).as_posix(): [
            f"{node.lineno}: {ast.unparse(node)}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant)
        ]
        for path in paths
    }
    assert {name: found for name, found in made_up.items() if found} == {}
