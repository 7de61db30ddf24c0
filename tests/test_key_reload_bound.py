"""Made-up key ids cannot make the server reload its keys at request rate (wire/keyring.py,
Refreshed.find): an on-demand reload starts at most once per MIN_INTERVAL per process (the
callers meanwhile share the next one), and an id still unknown after one is refused
without another for UNKNOWN_TTL. Counted by the metric key_reloads_on_demand_total. A key
made in this process works at once, and one written by another (a row, here) on its first
call."""
import json
import re
import secrets
import time
import uuid

from casino import operators
from tests.support import OPERATOR_KEY, parallel
from wire.keyring import MIN_INTERVAL

BATCH = 50


def reloads(api):
    """{key ring: on-demand loads so far} from /metrics."""
    text = api.http.get(f"{api.base_url}/metrics", timeout=30).text
    return {name: float(value) for name, value in
            re.findall(r'^key_reloads_on_demand_total\{keys="([^"]+)"\} (\S+)$', text, re.M)}


def grown(before, after):
    return sum(after.get(name, 0) - before.get(name, 0) for name in after)


def unknown_operator_key(api):
    return api.http.get(f"{api.base_url}/casino/admin/players/list", timeout=30,
                        headers={"Authorization": f"Bearer op_{secrets.token_hex(6)}.{secrets.token_urlsafe(8)}"})


def unknown_kid(api):
    body = json.dumps({"sessionToken": "t-" + uuid.uuid4().hex, "userId": 1}).encode()
    header = f"t={int(time.time())},kid=kid-{uuid.uuid4().hex},v2={'0' * 64}"
    return api.http.post(f"{api.base_url}/casino/getBalance", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "x-casino-signature": header})


def test_a_thousand_made_up_ids_cost_a_bounded_number_of_reloads(api):
    before = reloads(api)
    began = time.monotonic()
    statuses = []
    for _ in range(1000 // BATCH):
        statuses += [r.status_code for r in parallel([lambda: unknown_operator_key(api)] * (BATCH // 2)
                                                     + [lambda: unknown_kid(api)] * (BATCH // 2))]
    elapsed = time.monotonic() - began
    made = grown(before, reloads(api))
    assert statuses == [401] * 1000
    # At most one per MIN_INTERVAL per key ring (two rings here), and the first of each.
    assert 1 <= made <= 2 * (elapsed / MIN_INTERVAL + 1), (made, elapsed)
    assert made < 1000 / 4, made


def test_an_id_asked_again_soon_is_refused_without_a_reload(api):
    key = f"op_{secrets.token_hex(6)}.nothing"
    headers = {"Authorization": f"Bearer {key}"}
    before = reloads(api)
    for _ in range(200):
        r = api.http.get(f"{api.base_url}/casino/admin/players/list", headers=headers, timeout=30)
        assert r.status_code == 401
    assert grown(before, reloads(api)) <= 2


def test_a_key_made_in_this_process_works_at_once(api):
    # The flood first: a made-up id was just refused, and reloads are spaced.
    for _ in range(3):
        assert unknown_operator_key(api).status_code == 401
    made = api.http.post(f"{api.base_url}/casino/admin/keys", timeout=30,
                         data=json.dumps({"scopes": ["backoffice"], "label": "at once"}).encode(),
                         headers={"Authorization": f"Bearer {OPERATOR_KEY}", "Content-Type": "application/json"})
    assert made.status_code == 201, made.text
    r = api.http.get(f"{api.base_url}/casino/admin/players/list", timeout=30,
                     headers={"Authorization": f"Bearer {made.json()['key']}"})
    assert r.status_code == 200, r.text


def test_a_key_written_elsewhere_works_on_its_first_call(api, ledger):
    for _ in range(3):
        assert unknown_operator_key(api).status_code == 401
    key = ledger.run(lambda cur: operators.create_key(cur, ["backoffice"], "another process")[0])
    r = api.http.get(f"{api.base_url}/casino/admin/players/list", timeout=30,
                     headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
