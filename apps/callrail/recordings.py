"""Downloading a call recording's MP3 from the URL CallRail's ``calls/{id}/recording.json`` answered.

That URL is CallRail's media host (or, for HIPAA accounts, a temporary storage link), not the API: it takes
no API token and must never receive the account's key, so this is a plain GET without credentials, only of
http(s) URLs, bounded in size and time, written to a temporary file then moved into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .client import USER_AGENT, new_session


class RecordingDownloadFailed(Exception):
    """The media host refused or failed; ``expired`` when the link itself is no longer valid (403/404/410)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def download_recording(url: str, destination: Path, *, max_bytes: int) -> int:
    """Fetch ``url`` into ``destination`` (atomically); returns the size in bytes."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise RecordingDownloadFailed("CallRail answered with a recording link that is not http(s).")
    timeout = float(getattr(settings, "CALLRAIL_HTTP_TIMEOUT", 30.0))
    with new_session() as session:
        try:
            response = session.get(url, stream=True, timeout=(min(timeout, 5.0), timeout),
                                   headers={"User-Agent": USER_AGENT, "Accept": "audio/mpeg, audio/*"})  # fmt: skip
        except requests.RequestException as exc:
            raise RecordingDownloadFailed(f"The recording could not be downloaded ({type(exc).__name__}).") from exc
        return _save(response, destination, max_bytes)


def _save(response: requests.Response, destination: Path, max_bytes: int) -> int:
    with response:
        if response.status_code in (403, 404, 410):
            raise RecordingDownloadFailed("The recording link has expired.", expired=True)
        if response.status_code != 200:
            raise RecordingDownloadFailed(f"CallRail's media host answered {response.status_code}.")
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind and not (kind.startswith("audio/") or kind in ("application/octet-stream", "binary/octet-stream")):
            raise RecordingDownloadFailed(f"CallRail's media host sent {kind}, not audio.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, suffix=".part")
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise RecordingDownloadFailed(
                            f"The recording is larger than the portal plays ({max_bytes // 1_000_000} MB)."
                        )
                    out.write(chunk)
            if size == 0:
                raise RecordingDownloadFailed("CallRail's media host sent an empty recording.")
            os.replace(temporary, destination)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return size
