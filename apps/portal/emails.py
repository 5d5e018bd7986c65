"""The agency's branding on the portal's emails: its name as the sender, its colour, logo and name on top."""

from __future__ import annotations

from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .formatting import ink_on

LOGO_CID = "agency-logo"


def branded_message(
    *, agency: Any, subject: str, text: str, html_template: str, context: dict[str, Any], to: list[str]
) -> EmailMultiAlternatives:
    """A text and HTML email under the agency's name, the HTML in its colours with its logo inline (cid:)."""
    colour = agency.primary_colour or "#1e3a8a"
    logo = bytes(agency.logo or b"")
    html = render_to_string(html_template, {
        **context, "agency": agency, "subject": subject, "colour": colour, "colour_ink": ink_on(colour),
        "logo_src": f"cid:{LOGO_CID}" if logo else "",
    })  # fmt: skip
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    message = EmailMultiAlternatives(subject=subject, body=text, to=to,
                                     from_email=formataddr((agency.name, address or "portal@localhost")))  # fmt: skip
    message.attach_alternative(html, "text/html")
    if logo:
        kind = agency.logo_content_type or "image/png"
        subtype = kind.split("/", 1)[1] if "/" in kind else "png"
        image = MIMEImage(logo, _subtype=subtype)
        image.add_header("Content-ID", f"<{LOGO_CID}>")
        image.add_header("Content-Disposition", "inline", filename=f"logo.{subtype.split('+')[0]}")
        message.attach(image)
        message.mixed_subtype = "related"
    return message
