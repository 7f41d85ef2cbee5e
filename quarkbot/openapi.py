"""OpenAPI tweaks: document 400/401/403/413/422 on every route that can return them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from quart import has_request_context, request
from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule
from werkzeug.routing.converters import BaseConverter, NumberConverter

from quarkbot.auth import PUBLIC, route_role
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.openapi_document import TOKEN_URL, finish_document, with_token_url

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_VALIDATION_REF = {"$ref": "#/components/schemas/ValidationErrorBody"}


def _response(description: str, ref: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


NO_CONTENT_ATTRIBUTE = "__quarkbot_no_content__"
F = TypeVar("F", bound=Callable[..., Any])


def no_content(func: F) -> F:
    """Document a ``204 No Content`` answer (quart-schema documents only bodies)."""
    setattr(func, NO_CONTENT_ATTRIBUTE, True)
    return func


ALSO_FORM_ATTRIBUTE = "__quarkbot_also_form__"


def also_form(func: F) -> F:
    """Document a JSON request body as accepted form-encoded too (same schema)."""
    setattr(func, ALSO_FORM_ATTRIBUTE, True)
    return func


EXTRA_CONTENT_ATTRIBUTE = "__quarkbot_extra_content__"


def also_accepts(media_type: str, schema: dict[str, Any]) -> Callable[[F], F]:
    """Document another request body type that the route parses itself (CSV, a multipart
    file); ``schema`` is its JSON schema (an object needs a ``title``: its component name)."""

    def decorator(func: F) -> F:
        extra = getattr(func, EXTRA_CONTENT_ATTRIBUTE, {"request": {}, "responses": {}})
        extra["request"][media_type] = {"schema": schema}
        setattr(func, EXTRA_CONTENT_ATTRIBUTE, extra)
        return func

    return decorator


def answers(status: int, media_type: str, description: str) -> Callable[[F], F]:
    """Document a response that is not JSON (``answers(200, "text/html", "The report")``)."""

    def decorator(func: F) -> F:
        extra = getattr(func, EXTRA_CONTENT_ATTRIBUTE, {"request": {}, "responses": {}})
        content = {media_type: {"schema": {"type": "string"}}}
        extra["responses"][status] = {"description": description, "content": content}
        setattr(func, EXTRA_CONTENT_ATTRIBUTE, extra)
        return func

    return decorator


def _add_extra_content(operation: dict[str, Any], extra: dict[str, Any]) -> None:
    if extra["request"]:
        body = operation.setdefault("requestBody", {"content": {}, "required": True})
        body["content"].update(copy.deepcopy(extra["request"]))  # each document lifts its own
    operation.setdefault("responses", {}).update(copy.deepcopy(extra["responses"]))


class QuarkbotOpenAPIProvider(OpenAPIProvider):
    _document: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        """quart-schema's document, finished (``quarkbot.openapi_document``); built once.

        In a request the OAuth2 token URL is absolute, on the origin the client used.
        """
        if self._document is None:
            self._document = finish_document(super().schema())
        if has_request_context():
            return with_token_url(self._document, request.url_root.rstrip("/") + TOKEN_URL)
        return self._document

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        """Numeric path parameters carry the converter's range (``<int>`` has no sign: >= 0)."""
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, NumberConverter):
            schema = parameter["schema"]
            minimum = converter.min
            if minimum is None and not converter.signed:
                minimum = 0
            if minimum is not None:
                schema["minimum"] = minimum
            if converter.max is not None:
                schema["maximum"] = converter.max
        return parameter

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        role = route_role(view)
        for path_item in paths.values():
            for operation in path_item.values():
                if (extra := getattr(view, EXTRA_CONTENT_ATTRIBUTE, None)) is not None:
                    _add_extra_content(operation, extra)
                responses = operation.setdefault("responses", {})
                if getattr(view, NO_CONTENT_ATTRIBUTE, False):
                    responses.setdefault(204, {"description": "No content"})
                has_input = "requestBody" in operation or operation.get("parameters")
                if "requestBody" in operation and getattr(view, ALSO_FORM_ATTRIBUTE, False):
                    content = operation["requestBody"]["content"]
                    form = "application/x-www-form-urlencoded"
                    content.setdefault(form, content["application/json"])
                if "requestBody" in operation:
                    responses.setdefault(400, _response("Malformed request body", _ERROR_REF))
                    responses.setdefault(413, _response("Request body too large", _ERROR_REF))
                if has_input or "{" in rule.rule or "<" in rule.rule:
                    responses.setdefault(422, _response("Validation error", _VALIDATION_REF))
                if "<" in rule.rule:  # a path that names a resource may name a missing one
                    responses.setdefault(404, _response("Not found", _ERROR_REF))
                if role not in (None, PUBLIC):
                    responses.setdefault(401, _response("Not authenticated", _ERROR_REF))
                    responses.setdefault(
                        403, _response(f"Needs the {role!r} role or higher", _ERROR_REF)
                    )
                    operation.setdefault("description", "")
                    operation["description"] = (
                        f"{operation['description']}\n\nRequired role: `{role}`.".strip()
                    )
                    operation["x-required-role"] = role
        components.setdefault("ErrorBody", ErrorBody.model_json_schema())
        validation = ValidationErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, definition in validation.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("ValidationErrorBody", validation)
        return paths, components
