#!/usr/bin/env python3
"""Validates custom notifications for Amazon Q Developer in chat applications (a JSON array
on stdin) against tests/chat/custom-notification.schema.json, the schema transcribed from
https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html (tests only).

    ... | python3 tests/chat_validate.py

prints {"count": N, "problems": ["<index>: <path>: <message>", ...]} and exits 0 either way
(the caller asserts); exits 2 when the schema itself is not a valid JSON Schema or
`jsonschema` is missing (requirements-test.txt), so a broken check never passes quietly.
"""

import json
import os
import sys

SCHEMA = os.path.join(os.path.dirname(__file__), "chat", "custom-notification.schema.json")


def main():
    try:
        import jsonschema
    except ImportError:
        print("chat_validate.py: pip install jsonschema (requirements-test.txt)", file=sys.stderr)
        return 2
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"chat_validate.py: {SCHEMA} is not a valid schema: {e.message}", file=sys.stderr)
        return 2
    validator = validator_class(schema)
    notifications = json.load(sys.stdin)
    problems = []
    for i, notification in enumerate(notifications):
        for error in sorted(validator.iter_errors(notification), key=lambda e: list(e.path)):
            path = "/".join(str(p) for p in error.path) or "(root)"
            problems.append(f"{i}: {path}: {error.message}")
    print(json.dumps({"count": len(notifications), "problems": problems}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
