"""The API reference page, rendered on the server from the OpenAPI document."""

import re

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from ..api.problems import document

bp = Blueprint("docs", __name__, template_folder="templates", static_folder="static",
               static_url_path="/api-docs/static")

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]


@bp.app_template_filter("code_spans")
def code_spans(text):
    """Escape ``text`` and turn `backticked` runs into <code> elements."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))


def ref_name(schema):
    return schema["$ref"].rsplit("/", 1)[-1]


def describe(schema):
    """A schema as a short phrase: a list of (text, schema name to link or None)."""
    if "$ref" in schema:
        return [(ref_name(schema), ref_name(schema))]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = []
            for n, option in enumerate(schema[key]):
                parts += ([(" or ", None)] if n else []) + describe(option)
            return parts
    if "allOf" in schema:
        return describe(schema["allOf"][0])
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    main = [t for t in types if t != "null"] or ["null"]
    if main == ["array"]:
        parts = [("array of ", None)] + describe(schema.get("items", {}))
    else:
        parts = [(" or ".join(main), None)]
    if "null" in types and main != ["null"]:
        parts.append((" or null", None))
    return parts


def constraints(schema):
    """The schema's limits in words, for the table's notes column."""
    notes = []
    if schema.get("format"):
        notes.append(schema["format"])
    if "enum" in schema:
        notes.append("one of " + ", ".join(map(str, schema["enum"])))
    for key, word in (("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            notes.append(f"{word} {schema[key]:,}" if isinstance(schema[key], int) else f"{word} {schema[key]}")
    for key, word in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                      ("minItems", "at least {} items"), ("maxItems", "at most {} items")):
        if key in schema:
            notes.append(word.format(schema[key]))
    if schema.get("uniqueItems"):
        notes.append("no repeats")
    if "pattern" in schema:
        notes.append(f"matches {schema['pattern']}")
    if "default" in schema:
        notes.append(f"default {schema['default']}")
    return "; ".join(notes)


def unwrap(schema):
    """The schema that carries the constraints (inside a nullable oneOf or an array)."""
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return next((s for s in schema[key] if s.get("type") != "null"), schema)
    return schema


def fields(schema, spec):
    """Rows for an object schema's properties (following one $ref)."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][ref_name(schema)]
    if "allOf" in schema:
        return fields(schema["allOf"][0], spec)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": describe(prop),
            "required": name in required,
            "notes": constraints(unwrap(prop)),
            "description": prop.get("description") or unwrap(prop).get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def operation_view(path, method, op, spec):
    body = None
    if "requestBody" in op:
        media, content = next(iter(op["requestBody"]["content"].items()))
        body = {"media_type": media, "description": op["requestBody"].get("description", ""),
                "fields": fields(content["schema"], spec)}
    responses = []
    for status, response in op["responses"].items():
        media = list(response.get("content", {}))
        schema = response["content"][media[0]]["schema"] if media else None
        responses.append({
            "status": status,
            "description": response["description"],
            "media_types": media,
            "type": describe(schema) if schema and ("$ref" in schema or schema.get("type") != "string") else None,
            "headers": list(response.get("headers", {})),
        })
    return {
        "id": op["operationId"],
        "method": method.upper(),
        "path": path,
        "summary": op["summary"],
        "description": op.get("description", ""),
        "public": op.get("security") == [] or {} in op.get("security", []),  # none needed, or one optional
        "parameters": [
            {"name": p["name"], "in": p["in"], "required": p.get("required", False), "type": describe(p["schema"]),
             "notes": constraints(p["schema"]), "description": p.get("description", "")}
            for p in op.get("parameters", [])
        ],
        "body": body,
        "responses": responses,
    }


def sections(spec):
    by_tag = {tag["name"]: {**tag, "operations": []} for tag in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHOD_ORDER:
            if method in item:
                op = item[method]
                by_tag[op["tags"][0]]["operations"].append(operation_view(path, method, op, spec))
    return [section for section in by_tag.values() if section["operations"]]


@bp.get("/api-docs")
def reference():
    spec = document(current_app)
    schemas = [
        {"name": name, "description": schema.get("description", ""), "fields": fields(schema, spec)}
        for name, schema in spec["components"]["schemas"].items()
    ]
    return render_template("docs/reference.html", info=spec["info"], sections=sections(spec), schemas=schemas)
