"""Proves the harness itself: a real JupyterLab, a kernel, a widget and text output in Chromium."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_button_and_print_are_shown(page, open_notebook):
    open_notebook(
        page,
        [
            "import ipywidgets\nprint(1 + 1)\nipywidgets.Button(description='hello')",
        ],
    )
    # The widget view is rendered by the ipywidgets manager (a real comm round trip).
    button = page.wait_for_selector(".jp-OutputArea-output button.jupyter-button", timeout=60_000)
    assert button.inner_text().strip() == "hello"
    stdout = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")
    assert stdout.first.inner_text().strip() == "2"
    assert page.e2e_page_errors == []
    assert page.e2e_dialogs == []


def test_dark_theme_setting_applies(page, open_notebook, artifacts):
    open_notebook(page, ["print('dark')"], theme="dark")
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor"
    )
    artifacts.screenshot(page, "dark-notebook.png")
    rgb = [int(v) for v in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]]
    assert sum(rgb) / 3 < 80, bg
