"""REST API authentication with personal tokens: `Authorization: Token ap_…`."""

from rest_framework import authentication, exceptions

from .services import api_token_authenticate


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as: Authorization: Token <key>.")
        token = api_token_authenticate(key=header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or inactive API token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
