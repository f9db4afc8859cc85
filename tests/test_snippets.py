"""Snippets: saved blocks of text, listed by name, renamed, rewritten, deleted."""

import pytest


def test_save_list_change_and_delete_snippets(client):
    tags = client.post("/api/snippets", json={"name": "  Launch   tags ", "text": " #launch #pagesite "})
    assert tags.status_code == 201, tags.get_json()
    tags = tags.get_json()
    assert (tags["name"], tags["text"]) == ("Launch tags", "#launch #pagesite")
    sign_off = client.post("/api/snippets", json={"name": "a sign-off", "text": "— the team"}).get_json()
    assert [s["name"] for s in client.get("/api/snippets").get_json()["items"]] == ["a sign-off", "Launch tags"]

    changed = client.patch(f"/api/snippets/{tags['id']}", json={"text": "#launch"})
    assert changed.status_code == 200 and changed.get_json()["text"] == "#launch"
    assert changed.get_json()["name"] == "Launch tags"

    taken = client.patch(f"/api/snippets/{tags['id']}", json={"name": "a sign-off"})
    assert taken.status_code == 422 and "exists already" in taken.get_json()["errors"]["name"][0]
    assert client.get("/api/snippets").get_json()["items"][1]["name"] == "Launch tags"  # unchanged

    assert client.delete(f"/api/snippets/{sign_off['id']}").status_code == 204
    assert client.delete(f"/api/snippets/{sign_off['id']}").status_code == 404
    assert [s["id"] for s in client.get("/api/snippets").get_json()["items"]] == [tags["id"]]


@pytest.mark.parametrize("body, field", [
    ({"name": "", "text": "x"}, "name"),
    ({"name": "x", "text": "   "}, "text"),
    ({"name": "x" * 101, "text": "x"}, "name"),
])
def test_bad_snippets_are_422_naming_the_field(client, body, field):
    response = client.post("/api/snippets", json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"]
