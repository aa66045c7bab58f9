"""IAM policy evaluation for recorded requests (pure: no AWS, no emulator).

A request is (principal, action, resource, context). It is allowed when some Allow statement of the
principal's identity policies matches it and no Deny statement does (explicit deny wins; no match is
the implicit deny). A statement matches when its Action/NotAction matches the action (wildcards `*`,
`?`, case-insensitive), its Resource/NotResource matches the resource (wildcards, case-sensitive),
and its Condition holds. Conditions are decided from the request context when their key is in it;
a condition whose key is not is an *assumption*: for an Allow it is taken to hold and recorded, for a
Deny it is taken not to apply and recorded, so the output lists every condition the check could not
decide instead of silently allowing.

Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def wildcard(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's `*` (any run, `/` and `:` included) and `?` (one character)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


@dataclass
class Request:
    principal: str  # a role ARN
    action: str
    resource: str  # "*" when the action has no resource type
    context: dict[str, str] = field(default_factory=dict)  # condition keys the request decides


@dataclass
class Decision:
    allowed: bool
    by: str  # the deciding statement ("policy/Sid") or why none
    assumptions: list[str] = field(default_factory=list)


# Condition operators this evaluator decides; others are always assumptions.
def _cond_op(op: str, want: list[str], have: str) -> bool:
    base = op.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals"):
        return have in want
    if base == "StringNotEquals" or base == "ArnNotEquals":
        return have not in want
    if base == "StringEqualsIgnoreCase":
        return have.lower() in [w.lower() for w in want]
    if base in ("StringLike", "ArnLike"):
        return any(wildcard(w, have) for w in want)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(wildcard(w, have) for w in want)
    if base == "Bool":
        return have.lower() in [w.lower() for w in want]
    raise KeyError(op)


def condition_holds(condition: dict[str, Any], context: dict[str, str], where: str,
                    assumptions: list[str], effect: str) -> bool:
    """Every operator/key pair of a Condition block must hold (AND); values of one key are OR."""
    for op, pairs in (condition or {}).items():
        for key, values in pairs.items():
            want = [str(v) for v in as_list(values)]
            if key in context:
                try:
                    ok = _cond_op(op, want, context[key])
                except KeyError:
                    ok = None
                if ok is not None:
                    if not ok:
                        return False
                    continue
            if op.endswith("IfExists") and key not in context:
                continue
            outcome = "taken to hold" if effect == "Allow" else "taken not to apply"
            assumptions.append(f"{where}: {op} {key} {want} not decidable from the request ({outcome})")
            if effect == "Deny":
                return False
    return True


def statement_matches(s: dict[str, Any], req: Request, where: str, assumptions: list[str]) -> bool:
    if "Action" in s:
        if not any(wildcard(a, req.action, case_sensitive=False) for a in as_list(s["Action"])):
            return False
    elif "NotAction" in s:
        if any(wildcard(a, req.action, case_sensitive=False) for a in as_list(s["NotAction"])):
            return False
    else:
        return False
    if "Resource" in s:
        if not any(wildcard(r, req.resource) for r in as_list(s["Resource"])):
            return False
    elif "NotResource" in s:
        if any(wildcard(r, req.resource) for r in as_list(s["NotResource"])):
            return False
    else:
        return False
    local: list[str] = []
    if not condition_holds(s.get("Condition", {}), req.context, where, local, s.get("Effect", "Allow")):
        return False
    assumptions.extend(local)
    return True


def evaluate(policies: list[tuple[str, dict[str, Any]]], req: Request) -> Decision:
    """`policies`: (name, policy document) of the principal. Explicit deny, then allow."""
    assumptions: list[str] = []
    allow_by = None
    for name, doc in policies:
        for i, s in enumerate(as_list(doc.get("Statement"))):
            where = f"{name}/{s.get('Sid', i)}"
            if s.get("Effect") == "Deny":
                if statement_matches(s, req, where, assumptions):
                    return Decision(False, f"explicit deny by {where}", assumptions)
            elif s.get("Effect") == "Allow" and allow_by is None:
                if statement_matches(s, req, where, assumptions):
                    allow_by = where
    if allow_by:
        return Decision(True, allow_by, assumptions)
    return Decision(False, "no statement allows it (implicit deny)", assumptions)


def granted_actions(policies: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    """Action (as written, wildcards kept) -> the statements that allow it."""
    out: dict[str, list[str]] = {}
    for name, doc in policies:
        for i, s in enumerate(as_list(doc.get("Statement"))):
            if s.get("Effect") == "Allow":
                for a in as_list(s.get("Action")):
                    out.setdefault(a, []).append(f"{name}/{s.get('Sid', i)}")
    return out


def used_by(granted: str, actions: set[str]) -> bool:
    return any(wildcard(granted, a, case_sensitive=False) for a in actions)


__all__ = ["Request", "Decision", "evaluate", "granted_actions", "used_by", "wildcard", "as_list", "fnmatch"]
