"""Form submissions and text message conversations."""

import re

FORM_KEYS = {
    "id", "company_id", "person_id", "form_data", "form_url", "landing_page_url", "referrer", "referring_url",
    "submitted_at", "first_form", "customer_phone_number", "customer_name", "customer_email",
    "formatted_customer_phone_number", "formatted_customer_name", "source", "keywords", "campaign", "medium",
}  # fmt: skip
CONVERSATION_KEYS = {
    "id", "company_id", "initial_tracker_id", "current_tracker_id", "customer_name", "customer_phone_number",
    "initial_tracking_number", "current_tracking_number", "last_message_at", "state", "company_time_zone",
    "formatted_customer_phone_number", "formatted_initial_tracking_number", "formatted_current_tracking_number",
    "formatted_customer_name", "recent_messages",
}  # fmt: skip
UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_list_form_submissions(api):
    body = api.get("form_submissions", params={"date_range": "last_month", "per_page": 5}).json()
    assert set(body) == {"page", "per_page", "total_pages", "total_records", "form_submissions"}
    every = api.get("form_submissions", params={"start_date": "2000-01-01"})
    assert every.status_code == 400  # beyond the 25-month retention period
    recent = api.get("form_submissions").json()
    for form in recent["form_submissions"]:
        assert set(form) == FORM_KEYS
        assert form["id"].startswith("FOR")
        assert UTC_MS.match(form["submitted_at"])
    times = [f["submitted_at"] for f in recent["form_submissions"]]
    assert times == sorted(times, reverse=True)
    with_extras = api.get("form_submissions", params={"fields": "milestones,tags,lead_status"}).json()
    form = with_extras["form_submissions"][0]
    assert set(form["milestones"]) == {"first_touch", "lead_created", "qualified", "last_touch"}
    assert isinstance(form["tags"], list)


def test_create_and_update_form_submission_as_in_the_docs(api):
    company = api.first("companies")["id"]
    response = api.post("form_submissions", json={"form_submission": {
        "company_id": company,
        "referrer": "wikipedia_link",
        "referring_url": "wikipedia.org/wiki/Carmen_Sandiego",
        "landing_page_url": "missingmonuments.com/info",
        "form_url": "missingmonuments.com/report/new",
        "form_data": {"phone_number": "5555555555", "report": "Carmen stole the Liberty Bell.",
                      "last_sighting": "Near Washington D.C."},
    }})  # fmt: skip
    assert response.status_code == 201, response.text
    form = response.json()
    assert set(form) == {"id", "company_id", "person_id", "form_data", "form_url", "landing_page_url", "referrer",
                         "referring_url", "submitted_at", "first_form"}
    assert form["person_id"].startswith("PER")
    updated = api.put(f"form_submissions/{form['id']}", json={
        "note": "Call customer back tomorrow", "tags": ["New Client"], "lead_status": "good_lead", "value": "$1.00",
        "append_tags": True})  # fmt: skip
    assert updated.status_code == 200
    detail = api.get("form_submissions", params={"fields": "note,tags,lead_status,value"}).json()
    mine = next(f for f in detail["form_submissions"] if f["id"] == form["id"])
    assert (mine["note"], mine["lead_status"], mine["value"]) == ("Call customer back tomorrow", "good_lead", 1.0)
    assert [t["name"] for t in mine["tags"]] == ["New Client"]
    assert api.post("form_submissions", json={"company_id": company}).status_code == 400


def test_list_and_get_text_conversations(api):
    body = api.get("text-messages", params={"date_range": "last_month"})
    assert body.status_code == 200
    recent = api.get("text-messages").json()
    assert recent["conversations"]
    times = [c["last_message_at"] for c in recent["conversations"]]
    assert times == sorted(times, reverse=True)  # newest conversation first
    conversation = recent["conversations"][0]
    assert set(conversation) == CONVERSATION_KEYS
    assert 1 <= len(conversation["recent_messages"]) <= 2
    assert re.match(r"^[A-Za-z0-9]{5}$", conversation["id"])
    single = api.get(f"text-messages/{conversation['id']}").json()
    assert {"page", "per_page", "total_pages", "total_records", "messages"} <= set(single)
    assert "recent_messages" not in single
    assert single["total_records"] == len(single["messages"])
    message = single["messages"][0]
    assert set(message) == {"id", "content", "created_at", "status", "direction", "user"}
    assert message["created_at"] == conversation["recent_messages"][0]["created_at"]
    assert api.get("text-messages/zzzzz").status_code == 404
    phone = conversation["customer_phone_number"]
    searched = api.get("text-messages", params={"search": phone[-7:]}).json()["conversations"]
    assert conversation["id"] in [c["id"] for c in searched]


def test_send_text_message_as_in_the_docs(api, sandbox):
    tracker = next(t for t in api.get("trackers").json()["trackers"] if t["sms_enabled"])
    response = api.post("text-messages", json={
        "customer_phone_number": "+14044442233",
        "tracking_number": tracker["tracking_numbers"][0],
        "content": "These are not the droids you are looking for.",
        "company_id": tracker["company"]["id"],
    })  # fmt: skip
    assert response.status_code == 201, response.text
    conversation = response.json()
    assert conversation["customer_phone_number"] == "+14044442233"
    assert conversation["recent_messages"][0]["direction"] == "outgoing"
    usage = sandbox.state.usage(api.account_id)[api.account_id]
    assert usage["sms"]["hour"] == 1  # counted as an SMS send, not a general request
    # a follow-up can leave out the tracking number: the conversation has one
    again = api.post("text-messages", json={"customer_phone_number": "404-444-2233", "content": "Hi again",
                                             "company_id": tracker["company"]["id"]})
    assert again.status_code == 201
    assert again.json()["id"] == conversation["id"]
    too_long = api.post("text-messages", json={"customer_phone_number": "+14044442233", "content": "x" * 141,
                                                "company_id": tracker["company"]["id"]})
    assert too_long.status_code == 400
    bad_number = api.post("text-messages", json={"customer_phone_number": "12", "content": "x",
                                                  "company_id": tracker["company"]["id"]})
    assert bad_number.status_code == 400
