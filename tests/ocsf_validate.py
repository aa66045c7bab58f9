#!/usr/bin/env python3
"""Validates OCSF Compliance Findings (a JSON array on stdin) against the requirement
table derived from the OCSF schema (tests/ocsf/compliance_finding.json, made by
scripts/ocsf_requirements.py). Tests only.

    rekognition-guard invoke --event E --format ocsf | python3 tests/ocsf_validate.py

prints {"events": N, "problems": ["<index>: <path>: ...", ...]} and exits 0 either way
(the caller asserts). Checked: every required attribute of the class (with the cloud
profile) and of every object present, `at_least_one` constraints, enum values, types
(strings, integers, booleans, arrays, objects), no attribute the schema does not define,
the class identity (category 2, class 2003, type_uid = class_uid * 100 + activity_id), and
the attributes issue 15 names for Security Lake and SIEMs.
"""

import json
import os
import sys

TABLE = os.path.join(os.path.dirname(__file__), "ocsf", "compliance_finding.json")
SCALARS = {
    "string_t": str,
    "integer_t": int,
    "long_t": int,
    "timestamp_t": int,
    "boolean_t": bool,
    "float_t": (int, float),
    "port_t": int,
}
# What the issue asks every finding to carry.
EXPECTED = [
    ("finding_info", "uid"),
    ("compliance", "status_id"),
    ("compliance", "control"),
    ("compliance", "standards"),
    ("cloud", "account", "uid"),
    ("cloud", "region"),
    ("resources",),
    ("severity_id",),
]


def scalar_ok(value, t):
    py = SCALARS.get(t)
    if py is None:
        # Other *_t types are strings in JSON (uuid_t, datetime_t, ip_t, …) or JSON (json_t).
        return t == "json_t" or isinstance(value, str)
    if py is int and isinstance(value, bool):
        return False
    return isinstance(value, py)


def check(value, spec, objects, path, problems):
    attrs = spec["attributes"]
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object")
        return
    for name, a in attrs.items():
        if a["requirement"] == "required" and name not in value:
            problems.append(f"{path}.{name}: required, missing")
    group = spec.get("constraints", {}).get("at_least_one")
    if group and not any(g in value for g in group):
        problems.append(f"{path}: needs at least one of {group}")
    for name, v in value.items():
        a = attrs.get(name)
        if a is None:
            problems.append(f"{path}.{name}: not an attribute of the schema here")
            continue
        items = v if a["is_array"] else [v]
        if a["is_array"] and not isinstance(v, list):
            problems.append(f"{path}.{name}: expected an array")
            continue
        for i, item in enumerate(items):
            where = f"{path}.{name}" + (f"[{i}]" if a["is_array"] else "")
            t = a["type"]
            if t.endswith("_t"):
                if not scalar_ok(item, t):
                    problems.append(f"{where}: {item!r} is not a {t}")
                elif "enum" in a and item not in a["enum"]:
                    problems.append(f"{where}: {item!r} is not one of {a['enum']}")
            elif t == "object":
                if not isinstance(item, dict):
                    problems.append(f"{where}: expected an object")
            elif t in objects:
                check(item, objects[t], objects, where, problems)
            else:
                problems.append(f"{where}: unknown object type {t}")


def main():
    table = json.load(open(TABLE, encoding="utf-8"))
    events = json.load(sys.stdin)
    problems = []
    if not isinstance(events, list):
        events, problems = [], ["stdin: expected a JSON array of events"]
    klass = table["class"]
    for n, e in enumerate(events):
        p = []
        check(e, klass, table["objects"], "event", p)
        if isinstance(e, dict):
            if e.get("class_uid") != klass["uid"] or e.get("category_uid") != klass["category_uid"]:
                p.append(f"class_uid/category_uid {e.get('class_uid')}/{e.get('category_uid')}")
            if isinstance(e.get("activity_id"), int) and e.get("type_uid") != klass["uid"] * 100 + e["activity_id"]:
                p.append(f"type_uid {e.get('type_uid')} is not class_uid * 100 + activity_id")
            if "cloud" not in e.get("metadata", {}).get("profiles", []):
                p.append("metadata.profiles does not declare the cloud profile it uses")
            for keys in EXPECTED:
                v = e
                for k in keys:
                    v = v.get(k) if isinstance(v, dict) else None
                if v in (None, "", []):
                    p.append(f"{'.'.join(keys)}: missing or empty")
        problems.extend(f"{n}: {x}" for x in p)
    json.dump({"events": len(events), "problems": problems}, sys.stdout)


if __name__ == "__main__":
    main()
