"""The embedded default and developer machines: base settings with DEBUG on unless told otherwise."""

from .base import *  # noqa: F403
from .base import _setting

DEBUG = _setting("DJANGO_DEBUG", bool, True)
