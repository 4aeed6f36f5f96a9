"""End-to-end: the course in a real JupyterLab, in headless Chromium.

Skipped with a clear message only where Chromium cannot be installed; under CI (CI=true) a missing
browser is a failure, never a silent skip. Screenshots land in build/screenshots/ for people to look at.

Besides notebooks 00-02, one small notebook written by this test shows every explorer of
:mod:`segedu.widgets` (untrained models on 64 px scenes: the widgets, not the lessons, are tested):
each gets a slider moved with the keyboard, and a dropdown or a button used, and its picture and
numbers must change each time.
"""

import os

import browser
import nbformat
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
        nbformat.write(explorers_notebook(), workdir / "notebooks" / EXPLORERS_NOTEBOOK)
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


# -- every explorer, in one generated notebook ---------------------------------------------------------------

EXPLORERS_NOTEBOOK = "explorers.ipynb"
EXPLORERS_SETUP = """\
import torch

from segedu.data import SyntheticScenes
from segedu.models import build
from segedu.widgets import (chain_explorer, compare_fields, pyramid_explorer, receptive_field_explorer,
                            rf_arithmetic_explorer, scale_explorer, upsampling_explorer)

shapes = SyntheticScenes("test", "shapes", size=64, length=1)
context = SyntheticScenes("test", "context", size=64, length=3)
image, mask = shapes[0]
models = {}
for name in ("plain", "encdec", "unet"):
    torch.manual_seed(0)
    models[name] = build(name, shapes.num_classes)
torch.manual_seed(0)
pyramid_models = {"no PPM": build("pspnet", context.num_classes, ppm=False), "PSPNet": build("pspnet", context.num_classes)}
"""

# name -> (the cell's code, then after its first slider moved one step: (what to use, its label, text it must show))
EXPLORERS = {
    "receptive_field_explorer": ("receptive_field_explorer(models['plain'], image, mask, class_names=shapes.classes, "
                                 "palette=shapes.palette)", None),
    "compare_fields": ("compare_fields(models, image, mask, shapes.classes, shapes.palette)",
                       ("select", "deepest stage", "(deepest stage)")),
    "chain_explorer": ("chain_explorer()", ("click", "add a layer", "sees 20 input pixels")),  # kernel 4, then a copy
    "rf_arithmetic_explorer": ("rf_arithmetic_explorer()", None),
    "upsampling_explorer": ("upsampling_explorer(kernel=3, stride=2, padding=0)",
                            ("select", "resize, then convolve", "resized side")),
    "pyramid_explorer": ("pyramid_explorer(context, pyramid_models)", ("select", "6", "6 x 6 cells")),
    "scale_explorer": ("scale_explorer(models['encdec'], size=20, image=image)", None),
}
CSS_CLASSES = {"receptive_field_explorer": "segedu-field-explorer", "compare_fields": "segedu-compare-fields",
               "chain_explorer": "segedu-chain-explorer", "rf_arithmetic_explorer": "segedu-arithmetic-explorer",
               "upsampling_explorer": "segedu-upsampling-explorer", "pyramid_explorer": "segedu-pyramid-explorer",
               "scale_explorer": "segedu-scale-explorer"}


def explorers_notebook():
    """A notebook with the setup cell and one cell per explorer."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook.cells = [nbformat.v4.new_code_cell(EXPLORERS_SETUP)]
    notebook.cells += [nbformat.v4.new_code_cell(code) for code, _ in EXPLORERS.values()]
    return notebook


@pytest.fixture(scope="module")
def explorers_page(lab):
    base, page = lab
    page.set_viewport_size({"width": 1400, "height": 1600})  # room for the tallest explorer in one screenshot
    browser.open_notebook(page, base, EXPLORERS_NOTEBOOK)
    browser.run_all_cells(page, timeout_ms=300_000)
    assert browser.error_outputs(page) == []
    return page


def _picture_src(box) -> str | None:
    return box.evaluate("box => { const img = box.querySelector('img'); return img && img.getAttribute('src'); }")


def _answered(page, box, text, picture_before: str, text_before: str, what: str) -> None:
    """Wait until the kernel has redrawn the explorer after one change; its picture and its numbers must differ."""
    page.wait_for_function(
        "([box, before]) => { const img = box.querySelector('img'); return img && img.getAttribute('src') !== before; }",
        arg=[box.element_handle(), picture_before], timeout=60_000,
    )
    assert text.text_content() != text_before, f"the numbers did not change after {what}: {text_before}"


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_explorer_answers_its_controls_in_jupyterlab(explorers_page, name):
    page = explorers_page
    box = browser.current_panel(page).locator(f".{CSS_CLASSES[name]}")
    box.scroll_into_view_if_needed(timeout=30_000)  # JupyterLab may not lay out cells out of view
    text = box.locator("[class*='-text']").first
    box.locator("img").first.wait_for(timeout=60_000)
    picture, numbers = _picture_src(box), text.text_content()
    assert picture.startswith("data:image/png") and any(c.isdigit() for c in numbers), numbers

    handle = box.locator(".noUi-handle").first  # one step: one change, one answer to wait for
    now, top = (float(handle.get_attribute(key)) for key in ("aria-valuenow", "aria-valuemax"))
    handle.focus()
    handle.press("ArrowRight" if now < top else "ArrowLeft")
    assert round(float(handle.get_attribute("aria-valuenow"))) != round(now), "the slider did not move"
    _answered(page, box, text, picture, numbers, "the slider moved")

    if EXPLORERS[name][1] is not None:
        kind, label, shown = EXPLORERS[name][1]
        picture, numbers = _picture_src(box), text.text_content()
        if kind == "select":
            box.locator("select").filter(has=page.locator(f"option:text-is('{label}')")).select_option(label=label)
        else:
            box.locator("button", has_text=label).click()
        _answered(page, box, text, picture, numbers, f"{kind} {label!r}")
        assert shown in text.text_content(), (label, text.text_content())
    box.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    assert browser.error_outputs(page) == []
