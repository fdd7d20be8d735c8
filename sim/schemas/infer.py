#!/usr/bin/env python3
"""Draft a JSON schema (draft 2020-12 subset) for one `wanka … --json` output from sample outputs.

    python3 sim/schemas/infer.py KIND SAMPLE.json [SAMPLE.json …] > sim/schemas/KIND.schema.json

Used to start a schema from real outputs; the committed schemas are the contract, reviewed by hand,
and `tests/e2e/schema.rs` validates real outputs against them. Objects whose keys are all
lower_snake_case identifiers are records (every key seen in every sample is required, no other key
allowed); any other object is a map (ids or names to values). Integers are "integer", other numbers
"number"; a value seen as null in some sample is nullable.
"""
import json
import re
import sys

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def kind_of(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


class Shape:
    def __init__(self):
        self.types = set()
        self.items = None  # Shape of array items
        self.props = None  # name -> (Shape, count) for records
        self.records = 0
        self.map_values = None  # Shape for maps

    def add(self, v):
        k = kind_of(v)
        if k == "array":
            self.types.add("array")
            if self.items is None:
                self.items = Shape()
            for x in v:
                self.items.add(x)
        elif k == "object":
            if v and not all(IDENT.match(key) for key in v):
                self.types.add("map")
                if self.map_values is None:
                    self.map_values = Shape()
                for x in v.values():
                    self.map_values.add(x)
            else:
                self.types.add("object")
                self.records += 1
                if self.props is None:
                    self.props = {}
                for key, x in v.items():
                    s, n = self.props.get(key, (Shape(), 0))
                    s.add(x)
                    self.props[key] = (s, n + 1)
        else:
            self.types.add(k)

    def schema(self):
        types = set(self.types)
        if "integer" in types and "number" in types:
            types.discard("integer")
        out = {}
        json_types = sorted("object" if t == "map" else t for t in types)
        json_types = sorted(set(json_types))
        if not json_types:
            return {}
        out["type"] = json_types[0] if len(json_types) == 1 else json_types
        if "array" in types and self.items is not None and self.items.types:
            out["items"] = self.items.schema()
        if "map" in types and self.map_values is not None:
            out["additionalProperties"] = self.map_values.schema()
        elif "object" in types and self.props:
            out["properties"] = {k: s.schema() for k, (s, _) in sorted(self.props.items())}
            out["required"] = sorted(k for k, (_, n) in self.props.items() if n == self.records)
            out["additionalProperties"] = False
        return out


def main():
    kind, files = sys.argv[1], sys.argv[2:]
    shape = Shape()
    for f in files:
        with open(f) as fh:
            shape.add(json.load(fh))
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"wanka.{kind}",
        "title": f"wanka {kind} --json",
    }
    schema.update(shape.schema())
    json.dump(schema, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
