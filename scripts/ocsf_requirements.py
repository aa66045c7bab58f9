#!/usr/bin/env python3
"""Derives the requirement table tests/ocsf/compliance_finding.json from an OCSF schema
checkout (github.com/ocsf/ocsf-schema), so the test suite can validate our OCSF output
without the schema repository:

    git clone https://github.com/ocsf/ocsf-schema && git -C ocsf-schema checkout 1.5.0
    python3 scripts/ocsf_requirements.py ocsf-schema > tests/ocsf/compliance_finding.json

For the Compliance Finding class (with the `cloud` profile, which our findings declare)
and every object reachable from it: each attribute's requirement (required, recommended,
optional), type, whether it is an array, its enum values, and each object's
`at_least_one` constraints. Inheritance (`extends`) and profile includes are resolved the
way the OCSF server resolves them: a child's attribute fields override the parent's.
"""

import json
import os
import sys

CLASS = "events/findings/compliance_finding.json"
PROFILES = {"cloud"}


def load(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return json.load(f)


def merge(base, child):
    out = {k: dict(v) for k, v in base.items()}
    for name, fields in child.items():
        out.setdefault(name, {}).update(fields)
    return out


def attributes_of(root, rel, kind, profiles):
    """Attributes of an event class or object file, with extends and includes resolved."""
    d = load(root, rel)
    attrs = {}
    parent = d.get("extends")
    if parent:
        if kind == "event":
            path = "events/base_event.json" if parent == "base_event" else f"events/findings/{parent}.json"
        else:
            path = f"objects/{parent}.json"
        attrs, constraints = attributes_of(root, path, kind, profiles)
    else:
        constraints = {}
    own = d.get("attributes", {})
    for inc in own.get("$include", []) if isinstance(own, dict) else []:
        name = os.path.splitext(os.path.basename(inc))[0]
        if inc.startswith("profiles/") and name not in profiles:
            continue
        attrs = merge(attrs, {k: v for k, v in load(root, inc).get("attributes", {}).items()})
    attrs = merge(attrs, {k: v for k, v in own.items() if k != "$include"})
    constraints = dict(constraints, **d.get("constraints", {}))
    return attrs, constraints


def main():
    root = sys.argv[1]
    dictionary = load(root, "dictionary.json")["attributes"]
    objects, todo = {}, []

    def describe(attrs):
        out = {}
        for name, fields in attrs.items():
            base = dictionary.get(name, {})
            entry = dict(base)
            entry.update(fields)
            # Enum values of the dictionary and of the class/object together, as OCSF does.
            enum = dict(base.get("enum", {}), **fields.get("enum", {}))
            t = entry.get("type", "object_t")
            item = {
                "requirement": entry.get("requirement", "optional"),
                "type": t,
                "is_array": bool(entry.get("is_array", False)),
            }
            if enum:
                integer = t in ("integer_t", "long_t")
                item["enum"] = sorted(int(k) if integer else k for k in enum)
            if not t.endswith("_t"):
                todo.append(t)
            out[name] = item
        return out

    attrs, constraints = attributes_of(root, CLASS, "event", PROFILES)
    klass = {"attributes": describe(attrs), "constraints": constraints}
    # The dictionary's placeholders for the identity: the class fixes them (OCSF server does too).
    uid = load(root, CLASS)["uid"] + 2 * 1000
    activities = klass["attributes"]["activity_id"]["enum"]
    klass["attributes"]["class_uid"]["enum"] = [uid]
    klass["attributes"]["category_uid"]["enum"] = [2]
    klass["attributes"]["type_uid"]["enum"] = [uid * 100 + a for a in activities]
    while todo:
        name = todo.pop()
        if name in objects:
            continue
        path = f"objects/{name}.json"
        if not os.path.exists(os.path.join(root, path)):
            continue
        o_attrs, o_constraints = attributes_of(root, path, "object", set())
        objects[name] = None
        objects[name] = {"attributes": describe(o_attrs), "constraints": o_constraints}
    json.dump(
        {
            "source": "github.com/ocsf/ocsf-schema, tag " + os.environ.get("OCSF_TAG", "1.5.0"),
            "class": {"name": "compliance_finding", "uid": 2003, "category_uid": 2, **klass},
            "objects": dict(sorted(objects.items())),
        },
        sys.stdout,
        indent=1,
        sort_keys=False,
    )
    print()


if __name__ == "__main__":
    main()
