"""The installable, offline app: after one visit it starts and cuts out a photo with the
network cut, Chromium finds it installable, a new version is offered rather than swapped in,
and a photo shared to the installed app is cut out.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from builder.serve import serving
from tests import photos
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.unit.test_webapp import BUILD_LINE
from tests.browser.app_page import BOOT_TIMEOUT_MS, AppPage
from tests.browser.reference import assert_same_cutout, native_cutout
from tests.browser.site_copy import linked_copy, replace

pytestmark = pytest.mark.browser


def wait_offline_ready(app: AppPage) -> str:
    """Until the page says it works offline (files and model kept); that line."""
    app.page.wait_for_selector("#offline[data-state=ready]", timeout=BOOT_TIMEOUT_MS)
    return app.page.locator("#offline").text_content()


def test_after_one_visit_the_app_starts_and_works_offline(open_app, tmp_path):
    """One visit, the page says once that it works offline; with the network cut a reload
    starts the app and cuts out a photo exactly like the command line, and the page's
    privacy check counts what it asked for (all of it on this site, nothing uploaded)."""
    app = open_app()
    app.wait_ready()
    assert wait_offline_ready(app).startswith("Ready to work offline")
    app.context.set_offline(True)
    app.page.reload()
    app.wait_ready()
    assert app.page.locator("#offline").text_content() == "Works offline."      # said once only
    path = photos.save(tmp_path / "rocket.png", "rocket")
    cutout = app.cutout(path, tmp_path / "offline.png")
    assert_same_cutout(cutout, native_cutout(path, tmp_path))
    privacy = app.page.locator("#privacy")
    assert int(privacy.get_attribute("data-requests")) > 20, privacy.text_content()   # the worker's too
    assert (privacy.get_attribute("data-elsewhere"), privacy.get_attribute("data-uploads")) == ("0", "0")
    assert "all from this site; nothing uploaded" in privacy.text_content()


def test_chromium_finds_the_app_installable(playwright_instance, server_url, tmp_path):
    """No installability errors from Chromium (in a profile on disk, as a person's browser:
    Chromium never installs from an incognito one), and the manifest it parsed is ours:
    icons, standalone, and photos accepted from the system."""
    context = playwright_instance.chromium.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        app = AppPage.in_context(context, server_url)
        app.wait_ready()
        wait_offline_ready(app)
        session = context.new_cdp_session(app.page)
        assert session.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        parsed = session.send("Page.getAppManifest")
        assert parsed["errors"] == [], parsed["errors"]
        manifest = json.loads(parsed["data"])
        assert manifest["display"] == "standalone"
        assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
        assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
        assert "image/jpeg" in manifest["file_handlers"][0]["accept"]
        for icon in manifest["icons"]:
            assert app.page.request.get(app.origin + "/" + icon["src"]).ok, icon
    finally:
        context.close()


@pytest.fixture
def changing_site(site, tmp_path):
    """A copy of the site that a test can turn into the next version (links: instant)."""
    copy = linked_copy(site, tmp_path / "site")
    with serving(copy) as url:
        yield copy, url


def publish_next_version(copy):
    """What a deploy does: a changed file, and sw.js listing it (a new version)."""
    style = copy / "static" / "style.css"
    data = style.read_bytes() + b"\n/* next version */\n"
    replace(style, data)
    sw = copy / "sw.js"
    text = sw.read_text()
    build = json.loads(BUILD_LINE.search(text).group(1))
    for entry in build["files"]:
        if entry["path"] == "static/style.css":
            entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    build["version"] = "next-" + build["version"][:11]
    replace(sw, BUILD_LINE.sub(lambda _: "const BUILD = " + json.dumps(build, indent=1) + ";", text))
    return build["version"]


def test_a_new_version_is_offered_and_never_swapped_in_silently(browser, changing_site):
    """After a deploy, a reload finds the new version: the old one keeps running and the
    page offers the update; "Update now" switches, reloads, and the old cache is gone."""
    copy, url = changing_site
    app = AppPage(browser, url)
    try:
        app.wait_ready()
        wait_offline_ready(app)
        old_caches = app.page.evaluate("caches.keys()")
        version = publish_next_version(copy)
        app.page.reload()
        app.wait_ready()
        update = app.page.get_by_role("button", name="Update now")
        update.wait_for(timeout=BOOT_TIMEOUT_MS)
        assert "/* next version */" not in app.page.evaluate("fetch('static/style.css').then(r => r.text())")
        with app.page.expect_navigation(timeout=BOOT_TIMEOUT_MS):
            update.click()
        app.wait_ready()
        app.page.wait_for_function(f"caches.keys().then(k => k.includes('cutout-shell-{version}'))")
        assert "/* next version */" in app.page.evaluate("fetch('static/style.css').then(r => r.text())")
        app.page.wait_for_function(
            "([old]) => caches.keys().then(keys => !keys.includes(old))", arg=[next(k for k in old_caches if k.startswith("cutout-shell-"))]
        )
        assert app.page.get_by_role("button", name="Update now").is_hidden()
    finally:
        app.close()


def test_a_photo_shared_to_the_installed_app_is_cut_out(open_app, tmp_path):
    """The system's share sheet posts the photo to the manifest's share_target: the service
    worker keeps it, opens the app, and the page cuts it out."""
    app = open_app()
    app.wait_ready()
    wait_offline_ready(app)
    path = photos.save(tmp_path / "shared-photo.png", "coffee")
    app.page.evaluate("""() => {
        const form = Object.assign(document.createElement("form"),
            {method: "post", action: "share-target", enctype: "multipart/form-data"});
        const input = Object.assign(document.createElement("input"), {type: "file", name: "photos", id: "share"});
        form.append(input);
        document.body.append(form);
    }""")
    app.page.set_input_files("#share", str(path))
    with app.page.expect_navigation():
        app.page.evaluate("document.querySelector('#share').form.submit()")
    assert "?shared=1" in app.page.url
    app.picked_after = 0
    cutout = app.cutout_after_pick(tmp_path / "shared-cutout.png")
    assert_same_cutout(cutout, native_cutout(path, tmp_path))
    assert app.last_download_name.startswith("shared-photo")
    assert app.page.evaluate("caches.open('cutout-shared').then(c => c.keys()).then(k => k.length)") == 0
