"""Each function may read exactly the secrets, parameters and tables its code reads: no more, no less.

What a function *needs* is derived from its code, not declared: starting from its handler module, the
test follows every name the code refers to (module-level code, functions, classes and their methods,
imports inside functions included) through the layer, and notes what it reaches:

- ``hub.settings.config.load_config``: the configuration document (SSM parameter ``ConfigParameterName``);
- ``hub.settings.config.resolve_key(<campaign>.key)``: a referral provider's key (``ProviderKeysPrefix``);
- ``hub.settings.config.resolve_key(<config>.contacts.key)``: the Loops key (``ContactsKeyPrefix``);
- ``hub.settings.config.resolve_key(<campaign>.webhook_secret)``: a webhook secret (``WebhookSecretsPrefix``);
- ``hub.providers.ratelimit.shared.shared_limiter_for``: the rate limit table every caller of a provider shares.

The walk over-approximates (a name the code refers to counts as reached, whatever branch it is on), so
a function never lacks a grant its code can use. Where a function's own code pins it to one branch of
shared code (a queue consumer runs one operation), :data:`NARROWED` says which grant it does without and
why; a test checks each such entry is still reachable, so none outlives the code it stands for.

What a function *is granted* is read from the template: the statements of the managed policies its
``Policies`` reference (``!Ref``) and its inline statements. Each governed kind, and the idempotency
records, is one managed policy (:data:`MANAGED_BY`) that no function copies inline.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT, load, parse_parameter_overrides

LAYER = ROOT / "layers/hub/python"

CONFIGURATION = "Configuration"
PROVIDER_KEYS = "ProviderKeys"
CONTACTS_KEY = "ContactsKey"
WEBHOOK_SECRETS = "WebhookSecrets"
SHARED_RATE_LIMIT = "SharedRateLimit"
# The statements this test governs, by Sid; the others (tables, queues, buckets) are each function's own.
GOVERNED = {CONFIGURATION, PROVIDER_KEYS, CONTACTS_KEY, WEBHOOK_SECRETS, SHARED_RATE_LIMIT}

IDEMPOTENCY_RECORDS = "IdempotencyRecords"
# The managed policy holding each shared statement, by Sid: the only way a function is granted it.
MANAGED_BY = {
    CONFIGURATION: "ConfigurationReadPolicy",
    PROVIDER_KEYS: "ProviderKeysReadPolicy",
    CONTACTS_KEY: "ContactsKeyReadPolicy",
    WEBHOOK_SECRETS: "WebhookSecretsReadPolicy",
    SHARED_RATE_LIMIT: "SharedRateLimitPolicy",
    IDEMPOTENCY_RECORDS: "IdempotencyRecordsPolicy",
}

# The prefix parameter behind each kind of key, and the prefix parameters' pattern's cases.
PREFIX_OF = {
    PROVIDER_KEYS: "ProviderKeysPrefix",
    CONTACTS_KEY: "ContactsKeyPrefix",
    WEBHOOK_SECRETS: "WebhookSecretsPrefix",
}

# Grants a function does without although the walk reaches them, each with the reason its code gives.
NARROWED: dict[str, dict[str, str]] = {
    function: {CONTACTS_KEY: f"handlers.queue({operation!r}): bulk.execute calls Loops for syncContact only"}
    for function, operation in {
        "AddParticipantConsumerFunction": "addParticipant",
        "ConvertConsumerFunction": "convert",
        "RedeemConsumerFunction": "redeem",
        "FlagConsumerFunction": "flag",
        "UpdateParticipantConsumerFunction": "updateParticipant",
    }.items()
}
NARROWED["DeleteContactConsumerFunction"] = {
    PROVIDER_KEYS: "handlers.queue('deleteContact'): bulk.execute deletes the Loops contact before any program_for"
}
# The contact routes call Loops only; hub.flows.contacts reaches program_for for sync_contact and erase.
NARROWED["GetContactFunction"] = {PROVIDER_KEYS: "contacts.get_contact calls Loops only"}
NARROWED["DeleteContactFunction"] = {PROVIDER_KEYS: "contacts.delete_contact calls Loops only"}

# -- the walk over the code -------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    tree: ast.Module
    is_package: bool
    # Top-level functions and classes by name; methods as "Class.method".
    defs: dict[str, ast.AST] = field(default_factory=dict)
    # Names bound by the module's own imports: name -> ("module", dotted) or ("symbol", (module, name)).
    imports: dict[str, tuple[str, Any]] = field(default_factory=dict)


def _module_name(path: Path, root: Path, prefix: str = "") -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return prefix + ".".join(parts), is_package


@cache
def _layer_modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted((LAYER / "hub").rglob("*.py")):
        name, is_package = _module_name(path, LAYER)
        # A package (a directory with __init__.py) wins over a module file of the same name, as in Python.
        if name in modules and modules[name].is_package and not is_package:
            continue
        modules[name] = _parse(name, path, is_package)
    return modules


def _parse(name: str, path: Path, is_package: bool) -> Module:
    module = Module(name, ast.parse(path.read_text(), str(path)), is_package)
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            module.defs[node.name] = node
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    module.defs[f"{node.name}.{item.name}"] = item
    module.imports = _imports_in(module, module.tree.body)
    return module


def _imports_in(module: Module, body: list[ast.stmt]) -> dict[str, tuple[str, Any]]:
    """The names ``body``'s import statements bind (not those of nested functions)."""
    bound: dict[str, tuple[str, Any]] = {}
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = ("module", alias.name)
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = ("module", top)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in _layer_modules_names():
                    bound[alias.asname or alias.name] = ("module", target)
                else:
                    bound[alias.asname or alias.name] = ("symbol", (base, alias.name))
    return bound


@cache
def _layer_modules_names() -> frozenset[str]:
    return frozenset(_module_name(path, LAYER)[0] for path in (LAYER / "hub").rglob("*.py"))


# A node of the walk: (module, "" for its top level | "name" | "Class" | "Class.method").
Node = tuple[str, str]


class Walk:
    """Everything a handler module's code can reach in the layer, and what it reads on the way."""

    def __init__(self, handler_path: Path):
        self.modules = dict(_layer_modules())
        self.handler = _parse("app", handler_path, is_package=False)
        self.modules["app"] = self.handler
        self.reached: set[Node] = set()
        self.reads: set[str] = set()
        self.unclassified: list[str] = []
        self._todo: list[Node] = [("app", "")]
        while self._todo:
            node = self._todo.pop()
            if node not in self.reached:
                self.reached.add(node)
                self._visit(node)

    def _reach_module(self, name: str) -> None:
        # Importing a.b.c runs a, a.b and a.b.c.
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in self.modules:
                self._todo.append((prefix, ""))

    def _reach_symbol(self, module: str, name: str) -> None:
        self._reach_module(module)
        found = self.modules.get(module)
        if found is None:
            return
        if name in found.defs:
            self._todo.append((module, name))
            if isinstance(found.defs[name], ast.ClassDef):
                # A class reached: any of its methods may run.
                self._todo += [(module, key) for key in found.defs if key.startswith(f"{name}.")]
        elif name in found.imports:
            self._reach_binding(found.imports[name])

    def _reach_binding(self, binding: tuple[str, Any]) -> None:
        kind, target = binding
        if kind == "module":
            self._reach_module(target)
        else:
            self._reach_symbol(*target)

    def _visit(self, node: Node) -> None:
        module_name, qualname = node
        module = self.modules[module_name]
        if not qualname:
            body: list[ast.AST] = [
                statement
                for statement in module.tree.body
                if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            ]
            # Decorators and base classes run when the module is imported; a decorated function may be
            # registered by its decorator (a route of the handler's resolver), so it is reached too.
            for statement in module.tree.body:
                if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    body += statement.decorator_list
                    if statement.decorator_list:
                        self._reach_symbol(module.name, statement.name)
                if isinstance(statement, ast.ClassDef):
                    body += [*statement.bases, *statement.keywords]
            scope = dict(module.imports)
        else:
            definition = module.defs[qualname]
            body = [definition]
            scope = dict(module.imports)
            for inner in ast.walk(definition):
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    scope.update(_imports_in(module, inner.body))
        for tree in body:
            for inner in ast.walk(tree):
                self._note(module, scope, inner)

    def _note(self, module: Module, scope: dict[str, tuple[str, Any]], inner: ast.AST) -> None:
        if isinstance(inner, ast.Import | ast.ImportFrom):
            for binding in _imports_in(module, [inner]).values():
                self._reach_binding(binding)
        elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
            if inner.id in scope:
                self._reach_binding(scope[inner.id])
            elif inner.id in module.defs:
                self._reach_symbol(module.name, inner.id)
        elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
            binding = scope.get(inner.value.id)
            if binding is not None and binding[0] == "module":
                target = f"{binding[1]}.{inner.attr}"
                if target in self.modules:
                    self._reach_module(target)
                else:
                    self._reach_symbol(binding[1], inner.attr)
        if isinstance(inner, ast.Call):
            self._classify(module, scope, inner)

    def _resolves_to(self, module: Module, scope: dict[str, tuple[str, Any]], func: ast.expr) -> tuple[str, str]:
        if isinstance(func, ast.Name):
            binding = scope.get(func.id)
            if binding is None:
                return (module.name, func.id)
            return binding[1] if binding[0] == "symbol" else (binding[1], "")
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            binding = scope.get(func.value.id)
            if binding is not None and binding[0] == "module":
                return (binding[1], func.attr)
        return ("", "")

    def _classify(self, module: Module, scope: dict[str, tuple[str, Any]], call: ast.Call) -> None:
        target = self._resolves_to(module, scope, call.func)
        if target == ("hub.settings.config", "load_config"):
            self.reads.add(CONFIGURATION)
        elif target == ("hub.providers.ratelimit.shared", "shared_limiter_for"):
            self.reads.add(SHARED_RATE_LIMIT)
        elif target == ("hub.settings.config", "resolve_key"):
            argument = ast.unparse(call.args[0]) if call.args else ""
            if argument.endswith("webhook_secret"):
                self.reads.add(WEBHOOK_SECRETS)
            elif argument.endswith("contacts.key"):
                self.reads.add(CONTACTS_KEY)
            elif argument.endswith(".key"):
                self.reads.add(PROVIDER_KEYS)
            else:
                self.unclassified.append(f"{module.name}: resolve_key({argument})")


@cache
def needs_of(logical_id: str) -> frozenset[str]:
    """What the function's code can read, by the Sid of the statement that grants it."""
    fn = load().functions[logical_id]
    walk = Walk(fn.code_dir / f"{fn.module}.py")
    assert not walk.unclassified, f"{logical_id}: a key read the test cannot tell apart: {walk.unclassified}"
    return frozenset(walk.reads)


# -- the template's side ----------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policies(logical_id: str) -> list[Any]:
    """A function's ``Policies`` as written: ``{"Ref": <managed policy>}`` or ``{"Statement": [...]}``."""
    return _as_list(load().resources[logical_id]["Properties"].get("Policies", []))


def managed_policies() -> dict[str, list[dict[str, Any]]]:
    """The statements of each ``AWS::IAM::ManagedPolicy`` of the template, by its logical id."""
    return {
        logical_id: _as_list(resource["Properties"]["PolicyDocument"]["Statement"])
        for logical_id, resource in load().resources.items()
        if resource.get("Type") == "AWS::IAM::ManagedPolicy"
    }


def attached(logical_id: str) -> list[str]:
    """The logical ids a function's ``Policies`` reference (``!Ref``)."""
    return [policy["Ref"] for policy in policies(logical_id) if isinstance(policy, dict) and "Ref" in policy]


def inline_statements(logical_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in policies(logical_id)
        if isinstance(policy, dict) and "Statement" in policy
        for statement in _as_list(policy["Statement"])
    ]


def statements(logical_id: str) -> list[dict[str, Any]]:
    """Every statement a function is granted: those of the managed policies it references, then its own."""
    managed = managed_policies()
    refs = attached(logical_id)
    assert set(refs) <= set(managed), f"{logical_id}: {sorted(set(refs) - set(managed))} are not managed policies"
    return [statement for ref in refs for statement in managed[ref]] + inline_statements(logical_id)


def every_statement() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each statement of the template once, with where it is written: a managed policy or a function."""
    for logical_id, managed in managed_policies().items():
        for statement in managed:
            yield logical_id, statement
    for logical_id in ALL_FUNCTIONS:
        for statement in inline_statements(logical_id):
            yield logical_id, statement


def granted(logical_id: str) -> set[str]:
    return {statement["Sid"] for statement in statements(logical_id) if statement.get("Sid") in GOVERNED}


def written_with_sid(sid: str) -> list[tuple[str, dict[str, Any]]]:
    return [(where, statement) for where, statement in every_statement() if statement.get("Sid") == sid]


def sub_text(value: Any) -> str:
    """A resource as written: the text of its ``!Sub``, the logical id of its ``!GetAtt``."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return ".".join(target) if isinstance(target, list) else str(target)
    return str(value)


def resources(statement: dict[str, Any]) -> list[str]:
    resource = statement.get("Resource", [])
    return [sub_text(item) for item in (resource if isinstance(resource, list) else [resource])]


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement.get("Action", [])
    return set(action if isinstance(action, list) else [action])


ALL_FUNCTIONS = sorted(load().functions)

# -- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", ALL_FUNCTIONS)
def test_a_function_is_granted_exactly_what_its_code_reads(logical_id: str) -> None:
    # Given what the function's code can read, less what its own code rules out
    needed = set(needs_of(logical_id)) - set(NARROWED.get(logical_id, {}))
    # When the template's grants of keys, configuration and rate limit are read
    grants = granted(logical_id)
    # Then they are the same: no grant without a read, no read without a grant
    assert grants == needed, f"{logical_id}: granted {sorted(grants)}, its code reads {sorted(needed)}"


@pytest.mark.parametrize("logical_id", sorted(NARROWED))
def test_a_narrowed_grant_is_one_the_shared_code_could_use(logical_id: str) -> None:
    # Given a function said to do without a grant its shared code reaches
    narrowed = set(NARROWED[logical_id])
    # Then the walk does reach it (else the exception is stale and must go)
    assert narrowed <= needs_of(logical_id), logical_id


@pytest.mark.parametrize("logical_id", ALL_FUNCTIONS)
def test_every_policy_of_a_function_is_a_managed_policy_of_the_template_or_inline(logical_id: str) -> None:
    # Given what a function's Policies list holds
    managed = managed_policies()
    for policy in policies(logical_id):
        # Then each is a reference to a managed policy of this template or an inline statement list,
        # never an ARN, a SAM policy template or a parameter whose statements these checks cannot read
        assert isinstance(policy, dict), f"{logical_id}: {policy!r}"
        if "Ref" in policy:
            assert set(policy) == {"Ref"} and policy["Ref"] in managed, f"{logical_id}: {policy!r}"
        else:
            assert set(policy) <= {"Version", "Statement"} and "Statement" in policy, f"{logical_id}: {policy!r}"


@pytest.mark.parametrize("sid", sorted(MANAGED_BY))
def test_a_shared_grant_is_given_only_through_its_managed_policy(sid: str) -> None:
    # Given the managed policy that holds a governed kind (or the idempotency records)
    managed = managed_policies()
    name = MANAGED_BY[sid]
    # Then it holds that one statement, no other managed policy holds it, and no function copies it inline
    assert [statement.get("Sid") for statement in managed[name]] == [sid], name
    assert [other for other, held in managed.items() if other != name and sid in {s.get("Sid") for s in held}] == []
    assert [fn for fn in ALL_FUNCTIONS if sid in {s.get("Sid") for s in inline_statements(fn)}] == [], sid


def test_every_managed_policy_is_attached_to_a_function_and_nowhere_else() -> None:
    # Given the template's managed policies and the functions that reference them
    used = {ref for logical_id in ALL_FUNCTIONS for ref in attached(logical_id)}
    for name in managed_policies():
        props = load().resources[name]["Properties"]
        # Then each is used by a function, and attaches itself to no role, user or group: a function's
        # Policies are the only way in, so the grants checked above are all there are
        assert name in used, f"{name} is attached to no function"
        assert not {"Roles", "Users", "Groups"} & set(props), name


def test_the_walk_sees_a_read_the_handler_does_not_import_at_cold_start() -> None:
    # Given the split function, whose handler imports nothing that reads a key, and the sync contact
    # consumer, whose handler reaches the contact store only through an import inside a function
    # Then the first reads nothing and the second reads the Loops key and the referral keys
    assert needs_of("SplitImportFunction") == frozenset()
    assert {CONTACTS_KEY, PROVIDER_KEYS} <= needs_of("SyncContactConsumerFunction")


@pytest.mark.parametrize("sid", sorted(PREFIX_OF))
def test_a_key_grant_covers_only_its_own_prefix(sid: str) -> None:
    # Given every statement granting a kind of key
    prefix = PREFIX_OF[sid]
    expected = {
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${" + prefix + "}*",
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${" + prefix + "}*",
    }
    found = written_with_sid(sid)
    assert found, sid
    for logical_id, statement in found:
        # Then it reads secrets and SecureStrings under that prefix only, nothing else
        assert actions(statement) == {"secretsmanager:GetSecretValue", "ssm:GetParameter"}, logical_id
        assert set(resources(statement)) == expected, logical_id


def test_no_other_statement_reaches_secrets_or_parameters() -> None:
    # Given every statement that is not a key or configuration grant
    for logical_id, statement in every_statement():
        if statement.get("Sid") in {*PREFIX_OF, CONFIGURATION}:
            continue
        # Then it names no Secrets Manager or SSM action
        assert not {a for a in actions(statement) if a.split(":")[0] in {"secretsmanager", "ssm", "kms"}}, (
            f"{logical_id}: {statement.get('Sid')}"
        )


def test_the_configuration_grant_is_the_one_parameter() -> None:
    found = written_with_sid(CONFIGURATION)
    assert found
    for logical_id, statement in found:
        assert actions(statement) == {"ssm:GetParameter"}, logical_id
        assert resources(statement) == [
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterName}"
        ], logical_id


def test_no_statement_uses_a_wildcard_action_or_resource() -> None:
    for logical_id, statement in every_statement():
        assert statement.get("Effect") == "Allow", logical_id
        assert not [a for a in actions(statement) if "*" in a], f"{logical_id}: {statement.get('Sid')}"
        # Every statement names its actions and resources (no NotAction, no NotResource)
        assert "Action" in statement and "Resource" in statement, f"{logical_id}: {statement.get('Sid')}"
        for resource in resources(statement):
            # A wildcard only ever ends a prefix that ends in "/" (a secret's name, an upload's key)
            assert "*" not in resource.removesuffix("/*").removesuffix("}*"), f"{logical_id}: {resource}"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(load().parameters[name]["AllowedPattern"])


@pytest.mark.parametrize("parameter", sorted(PREFIX_OF.values()))
@pytest.mark.parametrize(
    "value",
    ["", "/", "*", "referral-hub/*", "referral-hub/prod/provider-keys", "/referral-hub/prod/", "a//b/", "a b/"],
)
def test_a_prefix_parameter_refuses_what_would_widen_its_grant(parameter: str, value: str) -> None:
    # Given a prefix that is empty, a wildcard, without its closing "/" (which would also match
    # "...-keys-other"), led by "/" (the SSM grant adds it) or malformed
    # Then CloudFormation refuses it before any policy is made from it
    assert not _pattern(parameter).fullmatch(value)


@pytest.mark.parametrize("parameter", sorted(PREFIX_OF.values()))
def test_a_prefix_parameter_takes_a_stage_scoped_prefix(parameter: str) -> None:
    assert _pattern(parameter).fullmatch("referral-hub/staging/provider-keys/")
    assert _pattern(parameter).fullmatch(load().parameters[parameter]["Default"])


@pytest.mark.parametrize("value", ["", "/", "referral-hub/config", "/referral-hub/*", "/a//b"])
def test_the_configuration_parameter_name_refuses_a_wildcard_or_a_relative_name(value: str) -> None:
    assert not _pattern("ConfigParameterName").fullmatch(value)


def _environments() -> Iterator[tuple[str, dict[str, str]]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for name, commands in config.items():
        if isinstance(commands, dict) and "deploy" in commands:
            overrides = parse_parameter_overrides(commands["deploy"]["parameters"].get("parameter_overrides", ""))
            yield name, overrides


def test_every_named_environment_reads_keys_only_under_its_own_stage() -> None:
    # Given the environments samconfig.toml names and the prefixes each deploys with
    seen: dict[str, str] = {}
    for name, overrides in _environments():
        stage = overrides["Stage"]
        for parameter in PREFIX_OF.values():
            value = overrides.get(parameter, "")
            # Then each prefix is set explicitly, names the environment's stage, and is no other environment's
            assert f"/{stage}/" in f"/{value}", f"{name}: {parameter}={value!r} does not name stage {stage}"
            assert value not in seen, f"{name} and {seen.get(value)} share {value}"
            seen[value] = name


def test_every_named_environment_has_its_own_configuration() -> None:
    names = [overrides.get("ConfigParameterName") for _, overrides in _environments()]
    assert all(names) and len(set(names)) == len(names), names


def test_the_three_kinds_of_key_have_three_prefixes_in_every_environment() -> None:
    for name, overrides in _environments():
        prefixes = [overrides[parameter] for parameter in PREFIX_OF.values()]
        # None is inside another, or a grant of one would read the others
        for one in prefixes:
            assert not [other for other in prefixes if other != one and other.startswith(one)], name


def test_the_example_configuration_keeps_each_key_under_its_kinds_prefix() -> None:
    # Given the example configuration and the template's default prefixes (the prod stage's)
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    default = {kind: load().parameters[parameter]["Default"] for kind, parameter in PREFIX_OF.items()}
    references = [(PROVIDER_KEYS, c["key"]) for c in example["campaigns"].values()]
    references += [
        (WEBHOOK_SECRETS, c["webhook_secret"]) for c in example["campaigns"].values() if "webhook_secret" in c
    ]
    references += [(CONTACTS_KEY, example["contacts"]["key"])]
    for kind, reference in references:
        # Then a secret's name starts with its kind's prefix, a parameter's with "/" and that prefix
        name = reference.get("secret") or reference["parameter"].removeprefix("/")
        assert name.startswith(default[kind]), f"{kind}: {reference}"
