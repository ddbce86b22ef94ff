"""A small validator of JSON values against the official AT Protocol lexicons in
`shared/specs/bluesky-lexicons/` (what the network's own servers check requests against), for the
shapes we cannot exercise against a local server (the chat service) and as a contract check of
everything the connector sends.

Covers what the lexicons used here need: objects (required, properties), refs, unions (by
`$type`), strings (maxLength in UTF-8 bytes, maxGraphemes, a few formats), integers, booleans,
arrays, `unknown`, and query parameters. Definitions from lexicons not in the folder are
accepted as they are.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import regex

from tests.conftest import SHARED

SPECS = SHARED / "specs" / "bluesky-lexicons"


class LexiconError(AssertionError):
    pass


def require_specs() -> Path:
    if not SPECS.is_dir():
        pytest.skip(f"the Bluesky lexicons are not at {SPECS} (shared/specs is absent in a plain clone)")
    return SPECS


@cache
def _document(nsid: str) -> dict[str, Any] | None:
    path = SPECS / (nsid.replace(".", "/") + ".json")
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _resolve(ref: str, context: str) -> tuple[dict[str, Any] | None, str]:
    nsid, _, name = ref.partition("#")
    nsid = nsid or context
    document = _document(nsid)
    if document is None:
        return None, nsid
    definition: dict[str, Any] = document["defs"][name or "main"]
    return definition, nsid


def _format_ok(value: str, fmt: str) -> bool:
    if fmt == "did":
        return value.startswith("did:") and len(value.split(":")) >= 3
    if fmt == "at-uri":
        return value.startswith("at://")
    if fmt == "datetime":
        try:
            return datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    if fmt == "uri":
        return ":" in value
    if fmt == "handle":
        return "." in value
    return True


def validate(value: Any, schema: dict[str, Any], context: str, path: str = "$", *, strict: bool = False) -> None:
    kind = schema.get("type")
    if kind == "ref":
        definition, nsid = _resolve(schema["ref"], context)
        if definition is not None:
            validate(value, definition, nsid, path, strict=strict)
        return
    if kind == "union":
        if not isinstance(value, dict) or "$type" not in value:
            raise LexiconError(f"{path}: a union member needs $type")
        wanted = value["$type"].removesuffix("#main")
        refs = {(r if not r.startswith("#") else context + r).removesuffix("#main"): r for r in schema["refs"]}
        if wanted not in refs:
            if schema.get("closed"):
                raise LexiconError(f"{path}: $type {wanted} is not one of {sorted(refs)}")
            return
        definition, nsid = _resolve(refs[wanted], context)
        if definition is not None:
            validate(value, definition, nsid, path, strict=strict)
        return
    if kind in ("object", "params", "record"):
        body = schema["record"] if kind == "record" else schema
        if not isinstance(value, dict):
            raise LexiconError(f"{path}: expected an object, got {type(value).__name__}")
        properties = body.get("properties", {})
        for name in body.get("required", []):
            if name not in value:
                raise LexiconError(f"{path}: missing required {name!r}")
        for name, item in value.items():
            if name == "$type":
                continue
            if name not in properties:
                if strict:
                    raise LexiconError(f"{path}: {name!r} is not in the lexicon")
                continue
            validate(item, properties[name], context, f"{path}.{name}", strict=strict)
        return
    if kind == "string":
        if not isinstance(value, str):
            raise LexiconError(f"{path}: expected a string")
        if "maxLength" in schema and len(value.encode()) > schema["maxLength"]:
            raise LexiconError(f"{path}: longer than {schema['maxLength']} bytes")
        if "maxGraphemes" in schema and len(regex.findall(r"\X", value)) > schema["maxGraphemes"]:
            raise LexiconError(f"{path}: longer than {schema['maxGraphemes']} graphemes")
        if "format" in schema and not _format_ok(value, schema["format"]):
            raise LexiconError(f"{path}: {value!r} is not a {schema['format']}")
        return
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise LexiconError(f"{path}: expected an integer")
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            raise LexiconError(f"{path}: {value} out of range")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            raise LexiconError(f"{path}: expected a boolean")
        return
    if kind == "array":
        if not isinstance(value, list):
            raise LexiconError(f"{path}: expected an array")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise LexiconError(f"{path}: more than {schema['maxLength']} items")
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise LexiconError(f"{path}: fewer than {schema['minLength']} items")
        for index, item in enumerate(value):
            validate(item, schema["items"], context, f"{path}[{index}]", strict=strict)
        return
    if kind == "unknown":
        # A record embedded as `unknown` (createRecord's record) is checked against its own
        # lexicon when we have it.
        if isinstance(value, dict) and isinstance(value.get("$type"), str):
            definition, nsid = _resolve(value["$type"], context)
            if definition is not None:
                validate(value, definition, nsid, path, strict=strict)
        return


def _main(nsid: str) -> dict[str, Any]:
    require_specs()
    document = _document(nsid)
    if document is None:
        raise LexiconError(f"no lexicon for {nsid} in {SPECS}")
    main: dict[str, Any] = document["defs"]["main"]
    return main


def check_params(nsid: str, params: dict[str, Any]) -> None:
    validate(params, _main(nsid)["parameters"], nsid, strict=True)


def check_input(nsid: str, body: Any) -> None:
    validate(body, _main(nsid)["input"]["schema"], nsid, strict=True)


def check_output(nsid: str, body: Any) -> None:
    validate(body, _main(nsid)["output"]["schema"], nsid)


def errors(nsid: str) -> set[str]:
    return {error["name"] for error in _main(nsid).get("errors", [])}


def params_from_query(nsid: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    """Query-string pairs typed by the lexicon's parameters (arrays repeat the key)."""
    properties = _main(nsid)["parameters"].get("properties", {})
    params: dict[str, Any] = {}
    for name, value in items:
        kind = properties.get(name, {}).get("type")
        if kind == "array":
            params.setdefault(name, []).append(value)
        elif kind == "integer":
            params[name] = int(value)
        elif kind == "boolean":
            params[name] = value == "true"
        else:
            params[name] = value
    return params
