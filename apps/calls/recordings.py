"""Call recordings played in the portal: fetched on demand, once, and kept for a while.

The portal's recording route (``apps.portal.recording_views``) finds the call through the viewer's scope,
then asks :func:`recording_file` for the MP3. A recording not on disk costs one CallRail request on the
**interactive** lane (``GET calls/{id}/recording.json``, which answers the MP3's location; the MP3 itself
comes from CallRail's media host, which is not the API and takes no token) and is then kept under
``RECORDINGS_CACHE_DIR`` for ``RECORDINGS_CACHE_HOURS``, so replays, seeking (HTTP Range requests) and other
viewers spend nothing. One fetch per recording at a time: a second request for the same recording waits for
the first rather than spending a second token. CallRail's media link and its ``access_key`` never reach the
browser. When the account's budget is spent, the person is told when playing will work again.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.callrail import errors
from apps.callrail.client import client_for_account
from apps.callrail.recordings import RecordingDownloadFailed, download_recording
from apps.portal.templatetags.safe_links import safe_url

from .models import Call

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_last_prune = 0.0


@dataclass
class RecordingUnavailable(Exception):
    """Why a recording cannot be played now: ``status`` for the HTTP answer, ``retry_after`` in seconds."""

    message: str
    status: int = 502
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message


def cache_dir() -> Path:
    return Path(getattr(settings, "RECORDINGS_CACHE_DIR", Path(settings.VAR_DIR) / "recordings"))


def cached_path(call: Call) -> Path:
    """Where a call's MP3 is kept (per account; the CallRail id is made file-name safe)."""
    return cache_dir() / str(call.client_account_id) / f"{_SAFE_NAME.sub('_', call.callrail_id)}.mp3"


def _fresh(path: Path) -> bool:
    max_age = float(getattr(settings, "RECORDINGS_CACHE_HOURS", 24.0)) * 3600
    try:
        return time.time() - path.stat().st_mtime < max_age
    except FileNotFoundError:
        return False


def is_cached(call: Call) -> bool:
    return _fresh(cached_path(call))


def recording_file(call: Call, *, account: Any) -> Path:
    """The call's MP3 on local disk, fetched through CallRail's budgeted client if it is not there yet.

    ``call`` must come from the viewer's scope (the caller's job). Raises :class:`RecordingUnavailable`.
    """
    if not call.has_recording:
        raise RecordingUnavailable("This call has no recording.", status=404)
    path = cached_path(call)
    if _fresh(path):
        return path
    lock = f"recording-fetch:{call.client_account_id}:{call.pk}"
    if not cache.add(lock, 1, timeout=120):
        return _wait_for(path)
    try:
        url = _media_url(call, account)
        size_cap = int(getattr(settings, "RECORDINGS_MAX_BYTES", 64_000_000))
        try:
            download_recording(url, path, max_bytes=size_cap)
        except RecordingDownloadFailed as exc:
            raise RecordingUnavailable(
                "CallRail's link to this recording no longer works; try again in a minute."
                if exc.expired else f"The recording could not be fetched from CallRail: {exc}"
            ) from exc  # fmt: skip
    finally:
        cache.delete(lock)
    now = time.time()  # the cache's ages are on the portal's clock (which a test may shift), not the disk's
    os.utime(path, (now, now))
    _prune()
    return path


def _wait_for(path: Path, seconds: float = 20.0) -> Path:
    """Another request is fetching this recording: wait for it rather than spend a second request."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _fresh(path):
            return path
        time.sleep(0.2)
    raise RecordingUnavailable("The recording is still being fetched from CallRail; try again shortly.", status=503,
                               retry_after=5)  # fmt: skip


def _media_url(call: Call, account: Any) -> str:
    """Ask CallRail where the MP3 is (one request on the interactive lane)."""
    client = client_for_account(account, lane="interactive")
    try:
        body = client.get(f"calls/{call.callrail_id}/recording.json")
    except (errors.BudgetExhausted, errors.RateLimited) as exc:
        minutes = max(1, round((exc.retry_after or 60) / 60))
        raise RecordingUnavailable(
            f"{account.name} has used its CallRail allowance for now, so the recording cannot be fetched. "
            f"It can be played again in about {minutes} minute{'s' if minutes != 1 else ''}.",
            status=503,
            retry_after=exc.retry_after or 60,
        ) from exc
    except errors.NotFound as exc:
        raise RecordingUnavailable("CallRail no longer has a recording of this call.", status=404) from exc
    except errors.AuthFailed as exc:
        raise RecordingUnavailable(
            "CallRail refused the account's key, so recordings cannot be fetched until the agency fixes it."
        ) from exc
    except errors.CallRailError as exc:
        raise RecordingUnavailable("CallRail did not answer; try again in a minute.", retry_after=60) from exc
    url = safe_url((body or {}).get("url") if isinstance(body, dict) else None)
    if not url:
        raise RecordingUnavailable("CallRail answered without a link to the recording.")
    return url


def _prune(every_seconds: float = 600.0) -> None:
    """Remove recordings older than the cache's lifetime (at most every ten minutes per process)."""
    global _last_prune
    now = time.monotonic()
    if now - _last_prune < every_seconds:
        return
    _last_prune = now
    root = cache_dir()
    if not root.is_dir():
        return
    for account_dir in root.iterdir():
        if not account_dir.is_dir():
            continue
        for item in account_dir.iterdir():
            if item.suffix in (".mp3", ".part") and not _fresh(item):
                item.unlink(missing_ok=True)
