"""A conversation's thread on its page: shown at once from the mirror, then completed from CallRail.

The conversation page renders what the mirror holds; when the thread is behind (a message newer than the last
read), the thread region asks ``…/thread/`` (HTMX, on load), which reads the conversation from CallRail on the
interactive lane and answers the updated region. Without JavaScript the page offers the same as a link.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.callrail import errors
from apps.portal.mixins import PortalView
from apps.sync.selectors import mirror_list

from .models import TextConversation
from .selectors import conversation_thread
from .services import conversation_thread_refresh


def thread_context(*, conversation: TextConversation, account: Any, refresh: bool = False) -> dict[str, Any]:
    """The thread region's context; with ``refresh`` the conversation is first read from CallRail."""
    problem = ""
    if refresh and conversation.thread_is_stale:
        try:
            conversation_thread_refresh(conversation=conversation, account=account)
        except (errors.BudgetExhausted, errors.RateLimited) as exc:
            minutes = max(1, round((exc.retry_after or 60) / 60))
            problem = (f"{account.name} has used its CallRail allowance for now: older messages load in about "
                       f"{minutes} minute{'s' if minutes != 1 else ''}.")  # fmt: skip
        except errors.NotFound:
            problem = "CallRail no longer has this conversation; these are the messages the portal kept."
        except errors.CallRailError:
            problem = "CallRail did not answer; the older messages could not be loaded. Try again in a minute."
    url = reverse("portal:conversation_thread", args=[account.pk, conversation.pk])
    from apps.portal.catalog import conversation_title

    return {
        "conversation": conversation,
        "conversation_title": conversation_title(conversation),
        "thread": conversation_thread(conversation=conversation, account=account),
        "thread_problem": problem,
        "thread_url": url,
        "thread_load": conversation.thread_is_stale and not refresh,
    }


class ConversationThreadView(PortalView, View):
    def get(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        conversation = (
            mirror_list(TextConversation, user=request.user, agency=request.agency or None)
            .filter(client_account=account, pk=pk)
            .first()
        )
        if conversation is None:
            raise Http404("No such conversation")
        context = {"account": account, **thread_context(conversation=conversation, account=account, refresh=True)}
        return render(request, "text_conversations/_thread.html", context)
