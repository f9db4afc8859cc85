"""How an API endpoint is declared, and the OpenAPI document built from the declarations.

A route of the ``api`` blueprint carries one ``@endpoint(...)``: the pydantic
models of its body, query string and response, and the problems it may answer.
From that one declaration the request is parsed and validated (a 422 problem
naming each field otherwise), the result is rendered, and ``document(app)``
writes the route into ``/api/openapi.json``. Shapes themselves live in
``shapes.py``.
"""

import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import PydanticCustomError, core_schema
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ..errors import ValidationFailed
from ..services.common import MAX_ID

JSON = "application/json"
PROBLEM = "application/problem+json"
MULTIPART = "multipart/form-data"
VERSION = "1.0.0"

# The config the document is being written for (validation reads current_app's).
_documenting: ContextVar = ContextVar("documenting")


def _config():
    return _documenting.get(None) or current_app.config


# Limits and choices that come from the app's config or registries, so the
# document says what this server enforces.

@dataclass(frozen=True)
class Setting:
    """A JSON Schema keyword whose value is a config setting, checked when ``message`` is given.

    ``Annotated[str, Setting("maxLength", "MAX_TEXT_LENGTH", "Must be at most {limit} characters.")]``
    """

    keyword: str  # maxLength, maxItems or maximum
    name: str
    message: str | None = None

    def __get_pydantic_core_schema__(self, source, handler):
        schema = handler(source)
        if self.message is None:
            return schema
        return core_schema.no_info_after_validator_function(self._check, schema)

    def __get_pydantic_json_schema__(self, schema, handler):
        result = handler(schema)
        result[self.keyword] = _config()[self.name]
        return result

    def _check(self, value):
        if value is None:
            return value
        limit = current_app.config[self.name]
        size = value if self.keyword == "maximum" else len(value)
        if size > limit:
            raise PydanticCustomError("limit", self.message, {"limit": limit, "size": size})
        return value


def config_default(name):
    """For ``Field(json_schema_extra=...)``: the documented default is the config setting ``name``."""
    return lambda schema: schema.update(default=_config()[name])


def no_default(schema):
    """For ``Field(json_schema_extra=...)``: an optional parameter whose absence means "any"."""
    schema.pop("default", None)


@dataclass(frozen=True)
class OneOf:
    """A string that must be one of ``choices()`` (a registry read at request time)."""

    choices: Callable[[], list]
    message: str = "Must be one of: {choices}."

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        result = handler(schema)
        result["enum"] = list(self.choices())
        return result

    def _check(self, value):
        choices = self.choices()
        if value not in choices:
            raise PydanticCustomError("choice", self.message, {"choices": ", ".join(choices)})
        return value


# How pydantic's errors read in a problem's ``errors``: one sentence per field.
MESSAGES = {
    "missing": "This field is required.",
    "string_type": "Must be a string.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "bool_type": "Must be true or false.",
    "list_type": "Must be a list.",
    "is_instance_of": "Must be a file.",
    "literal_error": "Must be one of: {expected}.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "string_too_short": "Must not be empty.",
    "string_too_long": "Must be at most {max_length} characters.",
    "string_pattern_mismatch": "Must match {pattern}.",
    "too_long": "At most {max_length} items.",
}


def field_errors(error: ValidationError):
    """A pydantic ValidationError as ``{field: [messages]}``, keyed by the top-level field
    (an error inside a list or object says where: "item 2: Must be a whole number.")."""
    errors = {}
    for item in error.errors(include_url=False):
        name, *inside = item["loc"] or ("body",)
        template = MESSAGES.get(item["type"])
        try:
            message = template.format(**item.get("ctx", {})) if template else item["msg"]
        except (KeyError, IndexError):
            message = item["msg"]
        if inside:
            where = " ".join(f"item {part + 1}" if isinstance(part, int) else str(part) for part in inside)
            message = f"{where}: {message}"
        errors.setdefault(str(name), []).append(message)
    return errors


# Declaring an endpoint.

@dataclass(frozen=True)
class ProblemResponse:
    """A problem response an endpoint may give (its body is the ``shapes.Problem`` named by ``schema``)."""

    status: int
    description: str
    schema: str = "Problem"
    headers: dict = field(default_factory=dict)


@dataclass
class Operation:
    operation_id: str
    tag: str
    summary: str
    description: str | Callable
    body: type[BaseModel] | None
    form: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    location: Callable | None
    errors: tuple
    public: bool
    optional_token: bool  # public, but a token (when sent, it must be valid) gets a fuller answer
    responses: dict  # raw OpenAPI responses, for answers that are not JSON (file bytes)
    also: dict  # other statuses answered with the same model: {503: "description"}


def endpoint(operation_id, tag, summary, description="", *, body=None, form=None, query=None, response=None,
             status=200, location=None, errors=(), public=False, optional_token=False, responses=None, also=None):
    """Declare an API view: what it reads, what it answers, and how it is documented.

    The view receives ``body=`` (a validated ``body`` or ``form`` model) and
    ``query=`` (a validated ``query`` model) besides its path arguments. It
    returns what ``response`` is read from (an ORM object, a dataclass or a
    dict), optionally with a status: ``(result, 503)``; or a ready Response.
    ``location(result)`` gives the Location header of a 201. ``public`` needs no token;
    ``optional_token`` too, but answers a valid one more (and a token that is not valid, 401).
    """
    op = Operation(operation_id, tag, summary, description, body, form, query, response, status, location,
                   tuple(errors), public or optional_token, optional_token, responses or {}, also or {})

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if op.body is not None:
                kwargs["body"] = _validate(op.body, _json_object(), strict=True)
            elif op.form is not None:
                kwargs["body"] = _validate(op.form, {**request.form.to_dict(), **request.files.to_dict()})
            if op.query is not None:
                kwargs["query"] = _validate(op.query, request.args.to_dict())
            result = view(**kwargs)
            if isinstance(result, current_app.response_class) or op.response is None:
                return result
            answer_status = op.status
            if isinstance(result, tuple):
                result, answer_status = result
            response = render(op.response, result)
            response.status_code = answer_status
            if op.location is not None:
                response.headers["Location"] = op.location(result)
            return response

        wrapper.operation = op
        return wrapper

    return decorate


def render(model, result):
    """``result`` read through ``model`` as a JSON response (fields the result never set stay out)."""
    data = model.model_validate(result, from_attributes=True).model_dump(mode="json", exclude_unset=True)
    return current_app.json.response(data)


def _json_object():
    """The request's JSON object, or a 415/400/422 problem."""
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with Content-Type: application/json.")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationFailed.single("body", "The body must be a JSON object.")
    return body


def _validate(model, data, strict=False):
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as e:
        raise ValidationFailed(field_errors(e)) from None


# The document.

class _Schemas(GenerateJsonSchema):
    """JSON Schema 2020-12 as OpenAPI 3.1 takes it, without a title on every field."""

    def field_title_should_be_set(self, schema):
        return False


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _content(model_name, media=JSON):
    return {media: {"schema": ref(model_name)}}


UNAUTHORIZED = ProblemResponse(401, "No valid bearer token was sent.", headers={
    "WWW-Authenticate": {"description": "The scheme to authenticate with.",
                         "schema": {"type": "string", "pattern": "^Bearer"}},
})
BAD_TOKEN = ProblemResponse(401, "A bearer token was sent and is not valid (revoked, or never issued).",
                            headers=UNAUTHORIZED.headers)
BAD_JSON = ProblemResponse(400, "The body is not valid JSON.")
NOT_JSON = ProblemResponse(415, "The body is not sent as application/json.")
INVALID = ProblemResponse(422, "A field is wrong; `errors` names each field and what is wrong with it.",
                  "ValidationProblem")
TOO_LARGE = ProblemResponse(413, "The request is larger than this server accepts.", "ValidationProblem")
NOT_FOUND = ProblemResponse(404, "No such resource.")
CHANNEL_NOT_FOUND = ProblemResponse(404, "No channel with this id (or it was removed).")
QUEUE_DOWN = ProblemResponse(503, "The job queue (Redis) is not answering; try again shortly.")
RATE_LIMITED = ProblemResponse(429, "Too many of these for your account for now (see the rate limits in the "
                                    "README); `Retry-After` says when to try again.", headers={
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}})


def _path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _path_parameters(rule):
    params = []
    for converter, name in re.findall(r"<(?:([^:<>]+):)?([^<>]+)>", rule):
        if converter == "int":
            what = name.removesuffix("_id")
            schema, description = {"type": "integer", "minimum": 1, "maximum": MAX_ID}, f"The {what}'s id."
        else:
            schema, description = {"type": "string", "minLength": 1}, "A provider name, or `default`."
        params.append({"name": name, "in": "path", "required": True, "schema": schema, "description": description})
    return params


def _query_parameters(model, defs):
    schema = defs[model.__name__]
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop,
         "description": prop.pop("description", "")}
        for name, prop in schema["properties"].items()
    ]


def _operation(op, rule, config, defs):
    doc = {"operationId": op.operation_id, "tags": [op.tag], "summary": op.summary,
           "description": op.description(config) if callable(op.description) else op.description}
    parameters = _path_parameters(rule)
    if op.query is not None:
        parameters += _query_parameters(op.query, defs)
    if parameters:
        doc["parameters"] = parameters
    problems = list(op.errors)
    if op.body is not None:
        doc["requestBody"] = {"required": True, "description": op.body.__doc__.strip().splitlines()[0],
                              "content": _content(op.body.__name__)}
        problems += [BAD_JSON, TOO_LARGE, NOT_JSON, INVALID]
    if op.form is not None:
        encoding = {"file": {"contentType": "application/octet-stream"}}
        doc["requestBody"] = {"required": True, "description": op.form.__doc__.strip().splitlines()[0],
                              "content": {MULTIPART: {"schema": ref(op.form.__name__), "encoding": encoding}}}
        problems += [INVALID, TOO_LARGE]
    if op.query is not None:
        problems.append(INVALID)
    if not op.public:
        problems.append(UNAUTHORIZED)
    elif op.optional_token:
        problems.append(BAD_TOKEN)
    responses = dict(op.responses)
    if op.response is not None:
        summary = (op.response.__doc__ or "").strip().splitlines()[0]
        responses[str(op.status)] = {"description": summary, "content": _content(op.response.__name__)}
        if op.location is not None:
            responses[str(op.status)]["headers"] = {"Location": {
                "description": "Where the new resource can be read.",
                "schema": {"type": "string", "format": "uri-reference"}}}
        for status, description in op.also.items():
            responses[str(status)] = {"description": description, "content": _content(op.response.__name__)}
    for problem in problems:
        answer = {"description": problem.description, "content": _content(problem.schema, PROBLEM)}
        if problem.headers:
            answer["headers"] = problem.headers
        responses.setdefault(str(problem.status), answer)
    doc["responses"] = dict(sorted(responses.items()))
    if op.public:
        # An empty requirement: none needed. With an optional token, either none or the bearer token.
        doc["security"] = [{}, {"bearerAuth": []}] if op.optional_token else []
    return doc


METHODS = ("get", "post", "put", "patch", "delete")


def _operations(app, blueprint):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != blueprint:
            continue
        op = getattr(app.view_functions[rule.endpoint], "operation", None)
        if op is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no @endpoint declaration")
        for method in sorted(m.lower() for m in rule.methods if m.lower() in METHODS):
            yield rule.rule, method, op


def document(app, blueprint="api", info=None, tags=(), extra_schemas=()):
    """The OpenAPI 3.1 document of ``blueprint``'s routes, for ``app``'s config."""
    token = _documenting.set(app.config)
    try:
        operations = list(_operations(app, blueprint))
        inputs = {m for _, _, op in operations for m in (op.body, op.form, op.query) if m is not None}
        outputs = {op.response for _, _, op in operations if op.response is not None} | set(extra_schemas)
        pairs = [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)]
        pairs += [(m, "serialization") for m in sorted(outputs - inputs, key=lambda m: m.__name__)]
        _, top = models_json_schema(pairs, ref_template="#/components/schemas/{model}", schema_generator=_Schemas)
        defs = top.get("$defs", {})
        paths = {}
        for rule, method, op in operations:
            paths.setdefault(_path(rule), {})[method] = _operation(op, rule, app.config, defs)
        for query in {op.query for _, _, op in operations if op.query is not None}:
            defs.pop(query.__name__, None)  # described as parameters instead
    finally:
        _documenting.reset(token)
    return {
        "openapi": "3.1.0",
        "info": {"version": VERSION, **(info or {})},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": list(tags),
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token, sent as `Authorization: Bearer <token>`."},
            },
            "schemas": dict(sorted(defs.items())),
        },
    }
