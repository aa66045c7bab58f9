"""Offline helpers for the deployment tests: load template.yaml, run the SAM translator, and resolve
the few CloudFormation intrinsic functions the template uses, for a given set of parameter values.

Nothing here calls AWS.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PERMISSIONS_RS = ROOT / "src" / "aws" / "permissions.rs"
EVENTS = ROOT / "events"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "rekognition-guard"


# --------------------------------------------------------------------------------------------
# YAML with CloudFormation short-form tags (!Ref, !Sub, !If, ...)
# --------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns `!Tag value` into the long form `{"Fn::Tag": value}`."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


# --------------------------------------------------------------------------------------------
# SAM translation, without network: the managed-policy map is only needed to resolve managed
# policy names in `Policies`, which this template does not use.
# --------------------------------------------------------------------------------------------


class StubManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (which calls IAM ListPolicies)."""

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> dict[str, str]:
        self.calls += 1
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        }


def translate(template: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(template if template is not None else load_template())
    # `sam build` / `sam package` replace a local CodeUri with the uploaded artifact's S3 URI before
    # the transform runs; do the same with a placeholder.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = resource.get("Properties", {}).get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                resource["Properties"]["CodeUri"] = "s3://sam-artifacts-placeholder/rekognition-guard.zip"
    # The translator reads the region from a boto3 session (no request is made); give it one
    # without touching the caller's environment for longer than the call.
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        return transform(template, dict(parameters or {}), StubManagedPolicyLoader())
    finally:
        if saved is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


# --------------------------------------------------------------------------------------------
# Intrinsic functions, resolved for one set of parameter values.
# --------------------------------------------------------------------------------------------


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class Resolver:
    """Resolves Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If, Fn::Equals, Fn::Not,
    Fn::And, Fn::Or and Fn::GetAtt (to a placeholder ARN) over a template, the way CloudFormation
    would for `parameters` (defaults filled in from the template)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any] | None = None,
                 partition: str = "aws", region: str = REGION) -> None:
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if "Default" in spec:
                self.params[name] = str(spec["Default"])
        for name, value in (parameters or {}).items():
            if name not in template.get("Parameters", {}):
                raise KeyError(f"unknown template parameter {name}")
            self.params[name] = str(value)
        missing = set(template.get("Parameters", {})) - set(self.params)
        if missing:
            raise KeyError(f"parameters without value: {sorted(missing)}")
        self.pseudo = {
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}
        # Resources a template may refer to: its own, and those the SAM transform will generate
        # from a function's events (logical id: function id + event id).
        self.known_resources = set(template.get("Resources", {}))
        for name, resource in template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::Serverless::Function":
                events = resource.get("Properties", {}).get("Events", {}) or {}
                self.known_resources |= {f"{name}{event}" for event in events}

    # -- conditions -----------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    # -- values ---------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.known_resources:
            return f"<ref:{name}>"
        raise KeyError(f"Ref to unknown name {name}")

    def get_att(self, resource: str, attribute: str) -> str:
        if resource not in self.known_resources:
            raise KeyError(f"GetAtt to unknown resource {resource}")
        return f"<{resource}.{attribute}>"

    def sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, variables = value
            variables = {k: self.resolve(v) for k, v in variables.items()}
        else:
            text, variables = value, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                delimiter, items = arg
                if not isinstance(delimiter, str):
                    raise ValueError("Fn::Join takes a literal delimiter")
                return delimiter.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                delimiter, text = arg
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(resource, attribute)
            if key.startswith("Fn::"):
                raise NotImplementedError(key)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist for these parameters, resolved."""
        out = {}
        for name, resource in self.template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            out[name] = self.resolve(resource)
        return out


# --------------------------------------------------------------------------------------------
# src/aws/permissions.rs
# --------------------------------------------------------------------------------------------

_CONST = re.compile(r"pub\s+const\s+IAM_ACTIONS\s*:[^=]*=\s*&\[(?P<body>.*?)\];", re.S)
_TUPLE = re.compile(r'\(\s*"(?P<action>[^"]+)"\s*,\s*"(?:[^"\\]|\\.)*"\s*,?\s*\)')


def code_actions(path: Path = PERMISSIONS_RS, const: str = "IAM_ACTIONS") -> list[str]:
    """The actions of `const` (`IAM_ACTIONS`, `ORG_ACTIONS`, `MEMBER_ACTIONS`) in
    src/aws/permissions.rs, in source order."""
    source = path.read_text(encoding="utf-8")
    # Drop line comments (whole-line, or after an entry) so a commented-out entry does not count;
    # "//" inside a string literal (a URL in a reason) is kept.
    source = re.sub(r"(?m)^\s*//[^\n]*$", "", source)
    source = re.sub(r"(?<=[),])[ \t]*//[^\n]*", "", source)
    match = re.compile(_CONST.pattern.replace("IAM_ACTIONS", const), _CONST.flags).search(source)
    if match is None:
        raise AssertionError(f"no `pub const {const}: ... = &[...];` in {path}")
    body = match.group("body")
    actions = [m.group("action") for m in _TUPLE.finditer(body)]
    leftover = _TUPLE.sub("", body).replace(",", "").strip()
    if leftover:
        raise AssertionError(f"unparsed text in {const}: {leftover[:80]!r}")
    return actions


def main(argv: list[str]) -> int:
    """`python3 tests/deploy/cfn.py [template.yaml] [--output FILE]`: run the SAM transform offline
    (as `make validate` does) and report, or write, the resulting CloudFormation."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    parser.add_argument("--output", type=Path, help="write the CloudFormation JSON here")
    args = parser.parse_args(argv)
    try:
        out = translate(load_template(args.template))
    except Exception as e:  # noqa: BLE001 - report any translator error as a failed validation
        print(f"{args.template}: SAM translation failed: {e}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(json.dumps(out, indent=2) + "\n")
    types: dict[str, int] = {}
    for resource in out["Resources"].values():
        types[resource["Type"]] = types.get(resource["Type"], 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(types.items()))
    print(f"{args.template}: SAM translation OK ({len(out['Resources'])} resources: {summary})")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
