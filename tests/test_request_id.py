"""A caller's X-Request-Id is safe to log: kept only when it is 1-128 characters of
A-Z a-z 0-9 . _ : - ; any other value is replaced by a new id, which is returned and is
what the access line carries (the value sent appears nowhere in the log)."""
import json
import re
import uuid

import pytest

NEW_ID = re.compile(r"[0-9a-f]{32}")


def access_line(server, request_id):
    [line] = [json.loads(raw) for raw in server.output().splitlines()
              if raw.startswith("{") and json.loads(raw).get("request_id") == request_id]
    return line


def call(api, request_id):
    return api.http.get(api.base_url + "/casino/admin/players/1", headers={"X-Request-Id": request_id}, timeout=30)


@pytest.mark.parametrize("shape", ["one", "every allowed character", "128 characters"])
def test_a_safe_id_is_kept_returned_and_logged(server, api, shape):
    unique = uuid.uuid4().hex
    request_id = {"one": unique[:1] if shape == "one" else None,
                  "every allowed character": f"AZaz09._:-{unique}",
                  "128 characters": (unique * 4)[:128]}[shape]
    if shape == "one":
        # One character cannot be unique in a log: count what the server logged for it.
        before = sum(1 for raw in server.output().splitlines() if f'"request_id":"{request_id}"' in raw)
        r = call(api, request_id)
        assert r.headers["X-Request-Id"] == request_id
        after = sum(1 for raw in server.output().splitlines() if f'"request_id":"{request_id}"' in raw)
        assert after == before + 1
        return
    r = call(api, request_id)
    assert r.status_code == 401 and r.headers["X-Request-Id"] == request_id
    assert access_line(server, request_id)["status"] == 401


@pytest.mark.parametrize("unsafe", [
    "{u}" + "x" * 97,              # 129 characters
    "semi;colon-{u}", "quote\"-{u}", "space {u}", "tab\t{u}", "slash/{u}", "percent%41-{u}",
    "<script>{u}</script>", "brace{{{u}}}", "latin-1 \u00fc {u}", "comma,{u}", "equals={u}",
])
def test_an_unsafe_id_is_replaced_by_a_new_one(server, api, unsafe):
    sent = unsafe.format(u=uuid.uuid4().hex)
    r = call(api, sent)
    returned = r.headers["X-Request-Id"]
    assert returned != sent and NEW_ID.fullmatch(returned), returned
    assert access_line(server, returned)["status"] == 401
    # The unique part of what was sent is nowhere in the log.
    assert sent.encode("latin-1").decode("latin-1") not in server.output()
    assert re.search(r"[0-9a-f]{32}", sent).group(0) not in server.output()


def test_an_empty_id_gets_a_new_one(api):
    r = api.http.get(api.base_url + "/health/live", headers={"X-Request-Id": ""}, timeout=30)
    assert NEW_ID.fullmatch(r.headers["X-Request-Id"])
