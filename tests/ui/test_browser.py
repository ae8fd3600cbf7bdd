"""Acceptance (issue 13) in a real browser: Debian's Chromium, driven by Playwright, against `aas-gateway demo`.

Sign in, the overview lists the three machines; a trend chart draws the points the history route
returns; a live value reaches the screen within 2 s of the machine's source time; an operator writes
a setpoint and sees the machine confirm it; a reader sees no write control and a forged write is
refused; the Korean switch changes the labels; the pages fit 1280x800 and a tablet, and work by
keyboard.
"""

from __future__ import annotations

import base64
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, Demo, run_demo

pytestmark = pytest.mark.slow  # one demo for the module: about a minute with its start

OP_SM = "urn:aas-gateway:demo:aas:IMM01:submodels:OperationalData"
ZONE1 = "IMM01/OperationalData/Barrel.Zone1.Temperature"
SETPOINT = "IMM01/OperationalData/Barrel.Zone1.Setpoint"
TIMEOUT_MS = 30_000


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with run_demo(tmp_path_factory.mktemp("ui-demo") / "data") as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def sign_in(page: Page, demo: Demo, role: str) -> None:
    page.goto(f"{demo.base}/#/signin")
    page.fill("#apikey", demo.key(role))
    page.click("form.signin-form button[type=submit]")
    expect(page.locator(".asset-card")).to_have_count(3)


def test_sign_in_and_the_overview_lists_the_three_machines(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(demo.base + "/")
    sign_in(page, demo, "operator")
    names = page.locator(".asset-card").evaluate_all("els => els.map(e => e.dataset.asset)")
    assert names == ["CNC01", "IMM01", "EM01"]
    for name in names:  # connected, with a machine state and a fresh last sample
        card = page.locator(f'.asset-card[data-asset="{name}"]')
        expect(card.locator('.conn .chip[data-state="connected"]')).to_be_visible()
        expect(card.locator(".state-value .v")).not_to_have_text("—")
    expect(page.locator('.asset-card[data-asset="IMM01"] .kpis .big')).to_be_visible()
    expect(page.locator(".strip")).to_contain_text("3")
    expect(page.locator("#live")).to_have_class("live live-live")
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly: no script can read it
    assert not errors, errors


def chart_data(page: Page) -> dict[str, Any]:
    return page.evaluate("""() => { const d = document.querySelector('.trend-plot').agwData;
        return {mode: d.mode, x: d.x, y: d.y, min: d.min, max: d.max, bucket: d.bucket,
                start: d.start, end: d.end}; }""")


def iso(sec: float) -> str:
    return page_iso(sec)


def page_iso(sec: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(sec, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_trend_chart_draws_the_history_routes_values(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "reader")
    # the comparison below leaves out the last 3 s: wait until the demo has a few seconds more history
    history = f"{demo.base}/api/v3.0/submodels/{b64(OP_SM)}/submodel-elements/Barrel.Zone1.Temperature/history"
    deadline = time.monotonic() + 60
    while True:
        first = page.request.get(f"{history}?limit=1").json()["samples"]
        if first and time.time() - _epoch(first[0]["timestamp"]) > 8:
            break
        assert time.monotonic() < deadline, "the demo stores no Zone1 history"
        page.wait_for_timeout(250)
    page.goto(f"{demo.base}/#/asset/IMM01")
    expect(page.locator("#trend-point")).to_have_value(ZONE1)
    page.click('.trend .seg[data-span="900"]')
    expect(page.locator(".trend-plot")).to_have_attribute("data-mode", "raw")
    page.wait_for_function("() => Number(document.querySelector('.trend-plot').dataset.count) > 5")
    d = chart_data(page)
    url = (f"{demo.base}/api/v3.0/submodels/{b64(OP_SM)}/submodel-elements/Barrel.Zone1.Temperature/history"
           f"?from={iso(d['start'])}&to={iso(d['end'])}&limit=20000")
    samples = page.request.get(url).json()["samples"]  # the page's own session
    # samples stamped in the last seconds before the load may have been committed after it: compare the
    # window before that (the chart may also have live points appended since)
    settled = d["end"] - 3
    route = [(_ms(s["timestamp"]), s["value"] if s["statusCode"] == 0 else None) for s in samples
             if _epoch(s["timestamp"]) < settled]
    chart = [(round(x * 1000), y) for x, y in zip(d["x"], d["y"], strict=True) if x < settled]
    assert len(route) >= 5
    assert chart == route
    # the series is drawn: the canvas holds pixels in its stroke colour
    drawn = page.evaluate("""() => { const c = document.querySelector('.trend-plot canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i] < 40 && px[i+1] > 60 && px[i+1] < 100 && px[i+2] > 120) n++;
        return n; }""")
    assert drawn > 50
    # a long range comes bucketed (min/max/avg), the same numbers as the route's buckets
    # The last bucket reaches "now": a sample stamped before the page's request but committed after it (the demo
    # keeps ingesting) is in our answer and not in the page's. A differing pair is therefore fetched again, both
    # sides; the same numbers must come out within a few tries (CI failed once on one such pair).
    for attempt in range(6):
        if attempt:
            page.click('.trend .seg[data-span="900"]')
            expect(page.locator(".trend-plot")).to_have_attribute("data-mode", "raw")
        page.click('.trend .seg[data-span="604800"]')
        expect(page.locator(".trend-plot")).to_have_attribute("data-mode", "buckets")
        d = chart_data(page)
        r = page.request.get(f"{demo.base}/api/v3.0/submodels/{b64(OP_SM)}/submodel-elements/Barrel.Zone1.Temperature"
                             f"/history?from={iso(d['start'])}&to={iso(d['end'])}&bucket=PT{d['bucket']}S"
                             f"&agg=min,max,avg,count&limit=602").json()["buckets"]
        assert d["bucket"] >= 1000 and len(r) >= 1
        shown = (d["y"], d["min"], d["max"])
        answered = ([b["avg"] for b in r], [b["min"] for b in r], [b["max"] for b in r])
        if shown == answered:
            break
    assert shown == answered
    # the data table shows the same numbers to whoever cannot see the chart
    page.click("text=Data table")
    expect(page.locator(".trend-table tbody tr")).to_have_count(min(len(r), 500))


def _ms(ts: str) -> int:
    """Milliseconds of an ISO time as a browser's Date.parse reads it (sub-millisecond digits dropped)."""
    from datetime import datetime

    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


def _epoch(ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def test_a_live_value_is_on_screen_within_2_s_of_the_machine(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "reader")
    page.goto(f"{demo.base}/#/asset/IMM01")
    cell = f'td.value[data-key="{ZONE1}"]'
    expect(page.locator(cell)).to_have_attribute("data-quality", "Good")
    page.evaluate("""(sel) => { window.__seen = []; const el = document.querySelector(sel);
        new MutationObserver(() => window.__seen.push([Date.now(), el.dataset.ts, el.textContent]))
          .observe(el, {childList: true, subtree: true, characterData: true}); }""", cell)
    page.wait_for_function("() => new Set(window.__seen.map(s => s[1])).size >= 5", timeout=60_000)
    seen = page.evaluate("window.__seen")
    lags = {ts: shown - _epoch(ts) * 1000 for shown, ts, _ in seen if ts}
    assert len(lags) >= 5
    # the machine's source clock and the browser's are this host's: the lag is transport plus display
    assert statistics.median(lags.values()) < 2000, sorted(lags.values())
    assert min(lags.values()) > -500


def test_an_operator_writes_a_setpoint_and_sees_the_machine_confirm_it(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "operator")
    page.goto(f"{demo.base}/#/asset/IMM01")
    form = page.locator(f'form.write-form[data-key="{SETPOINT}"]')
    current = float(page.locator(f'td.value[data-key="{SETPOINT}"] .v').inner_text().replace(",", ""))
    target = 207.5 if abs(current - 207.5) > 0.1 else 203.5
    form.locator("input").fill(str(target))
    form.locator("button").click()
    expect(form.locator(".write-status")).to_have_attribute("data-state", "confirmed", timeout=20_000)
    expect(page.locator(f'td.value[data-key="{SETPOINT}"] .v')).to_have_text(f"{target:g}")
    admin = page.request.get(f"{demo.base}/admin/audit?action=write", headers={"X-API-Key": demo.key("admin")}).json()
    rec = next(r for r in admin["records"] if r["target"].endswith("#Barrel.Zone1.Setpoint") and r["new"] == target)
    assert rec["result"] == "ok" and rec["actor"].endswith("/ui-operator")
    # an operator also sets the KPI operator inputs and acknowledges alarms: the controls are there
    expect(page.locator(".operator form.write-form")).to_have_count(4)


def test_a_reader_sees_no_write_controls_and_a_forged_write_is_refused(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "reader")
    expect(page.locator("#nav-admin")).to_be_hidden()
    page.goto(f"{demo.base}/#/asset/IMM01")
    expect(page.locator(f'td.value[data-key="{SETPOINT}"]')).to_be_visible()
    expect(page.locator("form.write-form")).to_have_count(0)
    expect(page.locator(".operator")).to_have_count(0)
    expect(page.locator(".alarms-card button")).to_have_count(0)
    before = page.locator(f'td.value[data-key="{SETPOINT}"] .v').inner_text()
    url = f"/api/v3.0/submodels/{b64(OP_SM)}/submodel-elements/Barrel.Zone1.Setpoint/$value"
    statuses = page.evaluate("""async (url) => {
        const s = await (await fetch('/ui/api/session')).json();
        const send = (h) => fetch(url, {method: 'PATCH', headers: {'Content-Type': 'application/json', ...h},
                                        body: '250'}).then(r => r.status);
        return [await send({'X-CSRF-Token': s.csrf}), await send({}), s.roles]; }""", url)
    assert statuses == [403, 403, ["reader"]]
    assert page.request.get(f"{demo.base}/admin/api-keys").status == 403
    page.wait_for_timeout(1500)
    assert page.locator(f'td.value[data-key="{SETPOINT}"] .v').inner_text() == before


def test_the_korean_switch_changes_the_labels_and_is_kept(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "admin")
    expect(page.locator("h1.page-title")).to_have_text("Plant overview")
    page.select_option("#lang", "ko")
    expect(page.locator("h1.page-title")).to_have_text("공장 현황")
    expect(page.locator("#nav-overview")).to_have_text("공장 현황")
    expect(page.locator("#signout")).to_have_text("로그아웃")
    expect(page.locator('.asset-card[data-asset="IMM01"] .state-row .k')).to_have_text("설비 상태")
    assert page.evaluate("document.documentElement.lang") == "ko"
    page.reload()
    expect(page.locator("h1.page-title")).to_have_text("공장 현황")
    page.goto(f"{demo.base}/#/admin")
    expect(page.locator("#audit-title")).to_have_text("감사 로그")
    expect(page.locator("#keys-title")).to_have_text("API 키")
    page.select_option("#lang", "en")
    expect(page.locator("#audit-title")).to_have_text("Audit log")


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 820, "height": 1180}],
                         ids=["1280x800", "tablet"])
def test_pages_fit_the_screen_and_work_by_keyboard(browser: Browser, demo: Demo, viewport: dict[str, int]) -> None:
    ctx = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    try:
        sign_in(page, demo, "operator")
        fits = "() => document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        # keyboard only: Tab to the second machine's link, Enter opens its page
        page.locator("body").focus()
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "IMM01":
                break
        else:
            pytest.fail("the IMM01 link is not reachable by Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none")  # the focus is visible
        page.keyboard.press("Enter")
        expect(page.locator("h1.page-title")).to_have_text("IMM01")
        expect(page.locator(".values-table").first).to_be_visible()
        page.wait_for_timeout(500)
        assert page.evaluate(fits)
    finally:
        ctx.close()


def test_admin_pages_list_keys_certificates_and_the_audit_log(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "admin")
    page.click("#nav-admin")
    expect(page.locator("#keys-title")).to_be_visible()
    expect(page.locator("tr[data-key-id]").first).to_be_visible()
    # the demo trusted its machines' certificates on first use: they are listed, with untrust buttons
    expect(page.locator("tr[data-thumbprint]").first).to_be_visible()
    assert page.locator("tr[data-thumbprint] .chip.cert-trusted").count() >= 1
    page.fill("#key-name", "line-display")
    page.select_option("#key-role", "reader")
    page.click("#keys-title ~ form button[type=submit]")
    expect(page.locator(".new-key code")).to_contain_text("agw_")
    page.select_option("#audit-action", "apikey")
    page.click("#audit-form button[type=submit]")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("apikey.create")
