"""Users and tags, from the docs' examples."""

import re

from apps.sandbox.fmt import TAG_COLORS

USER_KEYS = {"email", "id", "created_at", "role", "first_name", "last_name", "name", "accepted", "companies"}
LOCAL_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
TAG_KEYS = {"id", "name", "tag_level", "color", "background_color", "company_id", "status", "created_at"}


def test_list_users_with_roles_and_companies(api):
    body = api.get("users").json()
    users = body["users"]
    assert body["total_records"] == len(users) >= 4
    assert {u["role"] for u in users} == {"admin", "manager", "reporting"}
    for user in users:
        assert set(user) == USER_KEYS
        assert user["id"].startswith("USR")
        assert user["name"] == f"{user['first_name']} {user['last_name']}"
        assert LOCAL_MS.match(user["created_at"])
        assert all(set(c) == {"id", "name"} for c in user["companies"])
    admin = next(u for u in users if u["role"] == "admin")
    assert len(admin["companies"]) == 2  # administrators see every company


def test_users_search_sort_and_company_filter(api):
    created = api.post("users", json={"first_name": "Bob", "last_name": "Belcher", "email": "bob@example.com",
                                      "role": "admin"})
    assert created.status_code == 200  # the docs give 200 OK for this endpoint
    api.post("users", json={"first_name": "Linda", "last_name": "Belcher", "email": "linda@example.com",
                            "role": "admin"})
    found = api.get("users", params={"search": "belcher"}).json()
    assert sorted(u["email"] for u in found["users"]) == ["bob@example.com", "linda@example.com"]
    emails = [u["email"] for u in api.get("users", params={"sort": "email"}).json()["users"]]
    assert emails == sorted(emails)
    emails_desc = [u["email"] for u in api.get("users", params={"sort": "email", "order": "desc"}).json()["users"]]
    assert emails_desc == emails[::-1]
    second_company = api.get("companies").json()["companies"][1]["id"]
    scoped = api.get("users", params={"company_id": second_company}).json()["users"]
    assert all(second_company in [c["id"] for c in u["companies"]] for u in scoped)
    assert len(scoped) < api.get("users").json()["total_records"]


def test_create_user_as_in_the_docs(api):
    company_ids = [c["id"] for c in api.get("companies").json()["companies"]]
    response = api.post("users", json={"first_name": "Bob", "last_name": "Belcher", "email": "bob@example.com",
                                       "role": "reporting", "companies": company_ids})
    assert response.status_code == 200
    user = response.json()
    assert set(user) == USER_KEYS
    assert user["name"] == "Bob Belcher"
    assert user["accepted"] is False
    assert [c["id"] for c in user["companies"]] == company_ids
    assert api.get(f"users/{user['id']}").json() == user


def test_create_user_errors(api):
    base = {"first_name": "Bob", "last_name": "Belcher", "email": "bob@example.com", "role": "reporting"}
    assert api.post("users", json=base).status_code == 400  # companies required for reporting users
    assert api.post("users", json={**base, "role": "owner", "companies": []}).status_code == 400
    assert api.post("users", json={k: v for k, v in base.items() if k != "email"}).status_code == 400
    taken = api.first("users")["email"]
    assert api.post("users", json={**base, "role": "admin", "email": taken}).status_code == 422


def test_update_and_delete_users(api, sandbox):
    users = api.get("users").json()["users"]
    me = sandbox.state.token_keys[api.headers["Authorization"].split('"')[1]][api.account_id]
    response = api.put(f"users/{me}", json={"first_name": "Gene", "email": "gene@example.com",
                                            "current_password": "password1234"})
    assert response.status_code == 200
    assert response.json()["name"].startswith("Gene ")
    assert response.json()["email"] == "gene@example.com"
    other = next(u for u in users if u["id"] != me and u["accepted"] and u["role"] != "admin")
    assert api.put(f"users/{other['id']}", json={"first_name": "Nope"}).status_code == 403
    company = api.first("companies")["id"]
    moved = api.put(f"users/{other['id']}", json={"companies": [company]})
    assert moved.status_code == 200
    assert [c["id"] for c in moved.json()["companies"]] == [company]
    assert api.put(f"users/{me}", json={"email": "x@example.com"}).status_code == 400  # needs current_password
    pending = next(u for u in users if not u["accepted"])
    assert api.put(f"users/{pending['id']}", json={"companies": [company]}).status_code == 422
    assert api.delete(f"users/{other['id']}").status_code == 204
    assert api.get(f"users/{other['id']}").status_code == 404
    assert api.delete(f"users/{me}").status_code == 422


def test_list_tags_both_levels_with_colours(api):
    body = api.get("tags").json()
    tags = body["tags"]
    assert body["total_records"] == len(tags)
    assert {t["tag_level"] for t in tags} == {"account", "company"}
    for tag in tags:
        assert set(tag) == TAG_KEYS
        assert isinstance(tag["id"], int)
        assert tag["color"] in TAG_COLORS
        assert (tag["company_id"] is None) == (tag["tag_level"] == "account")
    company = api.first("companies")["id"]
    mine = api.get("tags", params={"company_id": company}).json()["tags"]
    assert mine
    assert all(t["company_id"] == company for t in mine)
    assert all(t["tag_level"] == "account" for t in api.get("tags", params={"tag_level": "account"}).json()["tags"])
    both = api.get("tags", params={"tag_level": "account", "company_id": company})
    assert both.status_code == 400


def test_create_update_delete_tag_as_in_the_docs(api):
    company = api.first("companies")["id"]
    response = api.post("tags", json={"name": "Existing Customer", "company_id": company, "color": "gray1"})
    assert response.status_code == 201
    tag = response.json()
    assert tag["tag_level"] == "company"
    assert tag["background_color"] == "gray1"
    assert tag["status"] == "enabled"
    account_tag = api.post("tags", json={"name": "New Tag", "tag_level": "account", "color": "blue1"}).json()
    assert account_tag["company_id"] is None
    updated = api.put(f"tags/{tag['id']}", json={"name": "Updated Tag Name", "color": "green1"}).json()
    assert (updated["name"], updated["color"]) == ("Updated Tag Name", "green1")
    assert api.put(f"tags/{tag['id']}", json={"disabled": "true"}).json()["status"] == "disabled"
    assert api.get("tags", params={"status": "disabled"}).json()["total_records"] >= 1
    assert api.delete(f"tags/{tag['id']}").status_code == 204
    assert api.get(f"tags/{tag['id']}").status_code == 404


def test_tag_errors(api):
    company = api.first("companies")["id"]
    assert api.post("tags", json={"company_id": company}).status_code == 400
    assert api.post("tags", json={"name": "No company"}).status_code == 400  # company level by default
    assert api.post("tags", json={"name": "X", "company_id": company, "color": "plaid"}).status_code == 400
    api.post("tags", json={"name": "Twice", "company_id": company})
    duplicate = api.post("tags", json={"name": "twice", "company_id": company})
    assert duplicate.status_code == 422
    assert api.put("tags/123", json={"name": "x"}).status_code == 404
    assert api.get("tags/not-a-number").status_code == 404


def test_deleting_a_tag_removes_it_from_calls(api):
    call = api.first("calls", fields="tags,company_id")
    tag = api.post("tags", json={"name": "Temp", "company_id": call["company_id"]}).json()
    api.put(f"calls/{call['id']}", json={"tags": ["Temp"], "append_tags": True})
    assert "Temp" in [t["name"] for t in api.get(f"calls/{call['id']}", params={"fields": "tags"}).json()["tags"]]
    api.delete(f"tags/{tag['id']}")
    assert "Temp" not in [t["name"] for t in api.get(f"calls/{call['id']}", params={"fields": "tags"}).json()["tags"]]
