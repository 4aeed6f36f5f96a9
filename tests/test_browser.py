"""End-to-end: the course in a real JupyterLab, in headless Chromium.

Skipped with a clear message only where Chromium cannot be installed; under CI (CI=true) a missing
browser is a failure, never a silent skip. Screenshots land in build/screenshots/ for people to look at.
"""

import os

import browser
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = browser.Path(__file__).resolve().parent.parent / "build" / "screenshots"
NOTEBOOKS = browser.Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = browser.chromium_missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    workdir = tmp_path_factory.mktemp("lab")
    # Results and checkpoints of the notebooks go to the temporary folder, not to the repository's results/.
    env = {"SEGEDU_FAST": "1", "SEGEDU_RESULTS": str(workdir / "results")}
    with browser.jupyter_lab(NOTEBOOKS, workdir, env=env) as base:
        with browser.chromium_page() as page:
            yield base, page


def test_welcome_notebook_runs_in_jupyterlab(lab):
    base, page = lab
    browser.open_notebook(page, base, "00_welcome.ipynb")
    browser.run_all_cells(page)
    page.screenshot(path=str(SCREENSHOTS / "00_welcome.png"), full_page=True)
    assert browser.error_outputs(page) == []
    text = browser.current_panel(page).inner_text()
    assert "mode" in text and "fast" in text  # the environment report of the setup cell


def test_per_pixel_logits_notebook_shows_progress_and_pictures(lab):
    base, page = lab
    browser.open_notebook(page, base, "01_per_pixel_logits.ipynb")
    browser.run_all_cells(page, timeout_ms=240_000)
    page.screenshot(path=str(SCREENSHOTS / "01_per_pixel_logits.png"), full_page=True)
    assert browser.error_outputs(page) == []
    panel = browser.current_panel(page)
    # fit's progress bars: tqdm's notebook widget (an ipywidgets progress bar), or its text form without widgets
    widget_bars = panel.locator(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output progress").count()
    assert widget_bars > 0 or "it/s" in panel.inner_text(), "no progress bar from fit() on the page"
    assert panel.locator(".jp-OutputArea-output img").count() >= 3  # data, predictions, error maps ...


def _numbers(text: str) -> list[str]:
    """The words of ``text`` that hold a digit (positions, sizes, radii)."""
    return [word for word in text.replace(",", " ").split() if any(c.isdigit() for c in word)]


def _rf_explorer(page):
    """The innermost widget box that holds the receptive-field explorer's text."""
    return browser.current_panel(page).locator(".widget-vbox").filter(has=page.locator(".segedu-rf-text")).last


def test_receptive_field_explorer_reacts_to_the_keyboard(lab):
    from playwright.sync_api import expect

    base, page = lab
    browser.open_notebook(page, base, "02_receptive_fields.ipynb")
    browser.run_all_cells(page, timeout_ms=240_000)
    assert browser.error_outputs(page) == []
    explorer = _rf_explorer(page)
    text, picture = explorer.locator(".segedu-rf-text"), explorer.locator("img").first
    text.scroll_into_view_if_needed(timeout=30_000)  # JupyterLab may not lay out cells out of view
    expect(text).to_contain_text("receptive field", timeout=30_000)
    picture.wait_for(timeout=30_000)
    text_before, picture_before = text.text_content(), picture.get_attribute("src")
    assert "receptive field" in text_before and picture_before.startswith("data:image/png")

    handle = explorer.locator(".noUi-handle").nth(1)  # the column slider (the first one is the row)
    now, top = (float(handle.get_attribute(name)) for name in ("aria-valuenow", "aria-valuemax"))
    key = "ArrowRight" if now + 3 <= top else "ArrowLeft"
    handle.focus()
    for _ in range(3):
        handle.press(key)
    final = round(float(handle.get_attribute("aria-valuenow")))
    assert final != round(now), "the slider did not move"
    page.wait_for_function(  # the kernel has redrawn for the slider's final position
        "([element, ending]) => element.textContent.includes(ending)",
        arg=[text.element_handle(), f", {final})"], timeout=60_000,
    )
    page.wait_for_function(
        "([element, before]) => element.getAttribute('src') !== before",
        arg=[picture.element_handle(), picture_before], timeout=60_000,
    )
    text_after = text.text_content()
    assert _numbers(text_after) != _numbers(text_before), (text_before, text_after)
    assert picture.get_attribute("src") != picture_before
    explorer.screenshot(path=str(SCREENSHOTS / "02_explorer.png"))
    page.screenshot(path=str(SCREENSHOTS / "02_receptive_fields.png"), full_page=True)
