"""A call's recording, played in the portal: ``/accounts/<id>/calls/<pk>/recording.mp3``.

The call is looked up through the viewer's scope (another tenant's call, or a call of a company a client may
not see, is a 404); the MP3 comes from ``apps.calls.recordings`` (fetched once on the interactive lane, then
from disk). HTTP Range requests are answered (206) so the player can seek; the browser may keep the file
privately for an hour. Errors are short plain-text sentences the player shows under itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views import View

from apps.calls.models import Call
from apps.calls.recordings import RecordingUnavailable, recording_file
from apps.sync.selectors import mirror_list

from .mixins import PortalView

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


class CallRecordingView(PortalView, View):
    def get(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        call = mirror_list(Call, user=request.user, agency=request.agency or None).filter(
            client_account=account, pk=pk
        ).first()  # fmt: skip
        if call is None:
            raise Http404("No such call")
        try:
            path = recording_file(call, account=account)
        except RecordingUnavailable as exc:
            response = HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
            if exc.retry_after:
                response["Retry-After"] = str(round(exc.retry_after))
            response["Cache-Control"] = "no-store"
            return response
        return serve_audio(request, path, filename=f"call-{call.pk}.mp3")


def serve_audio(request: HttpRequest, path: Path, *, filename: str) -> HttpResponse:
    """The file, whole (200) or the one byte range asked for (206); 416 for a range past its end."""
    size = path.stat().st_size
    wanted = _RANGE.match(request.headers.get("Range", "").replace(" ", ""))
    if wanted and (wanted[1] or wanted[2]):
        if wanted[1]:
            start = int(wanted[1])
            end = min(int(wanted[2]), size - 1) if wanted[2] else size - 1
        else:  # the last N bytes
            start, end = max(0, size - int(wanted[2])), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        response = StreamingHttpResponse(_read(path, start, end - start + 1), status=206, content_type="audio/mpeg")
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(path.open("rb"), content_type="audio/mpeg")
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _read(path: Path, start: int, length: int):
    with path.open("rb") as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
