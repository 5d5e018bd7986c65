"""OpenAPI generation: every operation documents the error answers the API really gives."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

ERROR_BODY = {
    "type": "object",
    "description": '`{"detail": "…"}`, or for invalid input `{"field": ["message", …]}`.',
    "additionalProperties": True,
}
ERRORS = {
    "400": "Invalid input, filter or ordering: the body names each field and what is wrong.",
    "401": "No valid token or session.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or not one you may see; also a page number past the end.",
    "429": "Too many API requests: wait `Retry-After` seconds.",
}


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction=direction)
        for code, description in ERRORS.items():
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
            )
        return responses
