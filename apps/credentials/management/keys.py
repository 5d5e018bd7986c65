"""What the operator commands share: the key comes from ``CALLRAIL_API_KEY`` or standard input, never
from an argument (it would land in shell history and process lists)."""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

KEY_VARIABLE = "CALLRAIL_API_KEY"
KEY_HELP = f"The key is read from ${KEY_VARIABLE} or standard input, never from an argument."


class KeyFromEnvironmentCommand(BaseCommand):
    def run_from_argv(self, argv: list[str]) -> None:
        # Answered before argparse, which would print its usage block and echo the secret back.
        if any(arg == "--api-key" or arg.startswith(("--api-key=", "--api_key", "--key=")) for arg in argv[2:]):
            sys.stderr.write(
                f"{argv[1]}: the key is not accepted as an argument (it would be kept in shell history): "
                f"set {KEY_VARIABLE} or pipe the key on standard input.\n"
            )
            sys.exit(2)
        super().run_from_argv(argv)

    def read_key(self, *, required: bool = True) -> str:
        key = os.environ.get(KEY_VARIABLE, "")
        if not key:
            key = getpass.getpass("CallRail API key (input hidden): ") if sys.stdin.isatty() else sys.stdin.readline()
        key = key.strip()
        if required and not key:
            raise CommandError(f"No API key: set ${KEY_VARIABLE} or pipe the key on standard input.")
        return key
