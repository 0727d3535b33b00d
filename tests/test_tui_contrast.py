"""Every built-in theme: pane titles, badges, bars and dimmed finished panes as drawn reach
WCAG AA (4.5:1), and so does every other text on the run screen (header badges and totals,
approvals, chat, footer). Disabled footer keys are left out: WCAG exempts inactive controls.
"""

from __future__ import annotations

from pathlib import Path

from textual.color import Color
from textual.strip import Strip
from textual.widgets._footer import FooterKey

from tests.contrast_support import SIZE, STATES, Cell, all_states_app, drawn, is_text, screen_strips
from tests.tui_support import QuietSession
from tui.app import DelegateApp
from tui.contrast import AA_TEXT, contrast, legible, legible_variables, luminance
from tui.screens.transcript import TranscriptScreen
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import AgentPane


def _pane_cells(app: DelegateApp, pane: AgentPane, strips: list[Strip]) -> list[Cell]:
    """The title (text on the top border row) and everything inside the border."""
    outer, inner = pane.region, pane.content_region
    title_row = outer._replace(height=1)
    body = inner._replace(x=outer.x + 1, width=outer.width - 2)  # with the padding
    return [c for c in drawn(app, title_row, strips) if is_text(c)] + drawn(app, body, strips)


async def _settle(pilot: object) -> None:
    app = pilot.app  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.main_screen.flush()
    await pilot.pause()  # type: ignore[attr-defined]


def _inactive(app: DelegateApp, cell: Cell) -> bool:
    """A disabled footer key (drawn dim on purpose; WCAG 1.4.3 exempts inactive parts)."""
    widget, _ = app.screen.get_widget_at(cell.x, cell.y)
    return isinstance(widget, FooterKey) and widget.has_class("-disabled")


async def test_every_theme_draws_the_run_screen_at_aa_contrast(tmp_path: Path) -> None:
    app = all_states_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        board = app.main_screen.query_one(AgentBoard)
        panes = {p.agent_id: p for p in app.screen.query(AgentPane) if p.agent_id}
        assert set(panes) == set(STATES), set(panes)
        failures: list[str] = []
        checked = 0
        themes = sorted(app.available_themes)
        assert len(themes) >= 20
        for n, theme in enumerate(themes):
            app.theme = theme
            # The focused pane goes round the running, approval and failed ones.
            focus = ("research-1", "coding-1", "data-1")[n % 3]
            board.focus_agent(focus)
            await pilot.pause()
            strips = screen_strips(app)
            where: list[tuple[str, list[Cell]]] = []
            for agent_id, pane in panes.items():
                cells = _pane_cells(app, pane, strips)  # with the bars' glyphs
                assert any(c.y == pane.region.y for c in cells), (theme, agent_id, "title")
                where.append((agent_id, cells))
            screen = [c for c in drawn(app, app.screen.region, strips) if is_text(c)]
            where.append(("screen", screen))
            for name, cells in where:
                for cell in cells:
                    checked += 1
                    if cell.ratio < AA_TEXT and not _inactive(app, cell):
                        failures.append(
                            f"{theme} {name} focus={focus}: {cell.text.strip()!r} "
                            f"{cell.fg} on {cell.bg} = {cell.ratio:.2f}"
                        )
        assert checked > 3000
        assert not failures, "\n".join(failures[:40])


def test_wcag_formula_matches_known_pairs() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == 21.0
    assert round(contrast((118, 118, 118), (255, 255, 255)), 2) == 4.54  # the AA grey
    assert round(luminance((255, 0, 0)), 4) == 0.2126
    # The pair the issue saw: textual-dark's old unfocused title.
    assert contrast((36, 40, 43), (18, 18, 18)) < 1.5


def test_legible_keeps_a_passing_colour_and_fixes_a_failing_one() -> None:
    dark = Color(18, 18, 18)
    assert legible(Color(224, 224, 224), [dark]) == Color(224, 224, 224)
    fixed = legible(Color(36, 40, 43), [dark])
    assert contrast(fixed.rgb, dark.rgb) >= AA_TEXT
    light = Color(239, 241, 245)
    fixed = legible(Color(246, 250, 255), [light])
    assert contrast(fixed.rgb, light.rgb) >= AA_TEXT
    assert luminance(fixed.rgb) < luminance(light.rgb)  # darker on a light theme


def test_legible_variables_keep_ansi_names_for_ansi_themes() -> None:
    app = DelegateApp(session=QuietSession(), autostart=False)  # type: ignore[arg-type]
    app.theme = "ansi-dark"
    variables = app.get_css_variables()
    assert variables["legible-error"] == "ansi_red"
    assert legible_variables({"background": "#000000", "surface": "#000000"}) != {}


async def test_every_theme_draws_the_transcript_at_aa_contrast(tmp_path: Path) -> None:
    """Texts, tool calls with a file's code and a command, a result and an error."""
    app = all_states_app(tmp_path)
    code = '"""Pricing."""\nimport csv  # the rows\n\n\ndef rows(path: str) -> list[str]:\n'
    app.view.agents["research-1"].messages[1] += [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "Check first."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Writing the converter."},
                {
                    "type": "tool_use",
                    "id": "tu-w",
                    "name": "write_file",
                    "input": {"path": "conv.py", "content": code + "    return [42, 'x']\n"},
                },
                {
                    "type": "tool_use",
                    "id": "tu-c",
                    "name": "run_command",
                    "input": {"command": "ls"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu-w", "content": "wrote 99 bytes"},
                {"type": "tool_result", "tool_use_id": "tu-c", "content": "x", "is_error": True},
            ],
        },
    ]
    async with app.run_test(size=(120, 50)) as pilot:
        await _settle(pilot)
        screen = TranscriptScreen(app.view, "research-1", tmp_path)
        await app.push_screen(screen)
        await pilot.pause()
        failures: list[str] = []
        checked = 0
        for theme in sorted(app.available_themes):
            app.theme = theme
            await pilot.pause()
            await pilot.pause()
            cells = [c for c in drawn(app, app.screen.region) if is_text(c)]
            texts = "".join(c.text for c in cells)
            assert "$ ls" in texts and "import" in texts, theme
            for cell in cells:
                checked += 1
                if cell.ratio < AA_TEXT and not _inactive(app, cell):
                    failures.append(
                        f"{theme}: {cell.text.strip()!r} {cell.fg} on {cell.bg} = {cell.ratio:.2f}"
                    )
        assert checked > 1000
        assert not failures, "\n".join(failures[:40])


def test_textual_widgets_get_the_legible_foreground_and_muted_text() -> None:
    """Labels, Markdown and tables of Textual's own read $foreground / $text-muted."""
    app = DelegateApp(session=QuietSession(), autostart=False)  # type: ignore[arg-type]
    for theme in ("atom-one-dark", "catppuccin-latte", "solarized-light"):
        app.theme = theme
        variables = app.get_css_variables()
        panel = Color.parse(variables["panel"]).rgb
        for name in ("foreground", "text-muted", "markdown-h1-color"):
            colour = Color.parse(variables[name])
            assert colour.a == 1.0 and contrast(colour.rgb, panel) >= AA_TEXT, (theme, name)


async def test_every_theme_draws_the_narrow_view_tabs_at_aa_contrast(tmp_path: Path) -> None:
    """Below 120 columns the Board / Chat line shows the lit tab, and a Chat with unseen
    CEO output, in the accent: textual-light's raw accent on its panel was 1.27:1."""
    from tui.widgets.view_tabs import ViewTabs

    app = all_states_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        tabs = app.screen.query_one(ViewTabs)
        failures: list[str] = []
        lit = 0
        for theme in sorted(app.available_themes):
            app.theme = theme
            for _ in range(2):  # the board shown, then the chat
                await pilot.pause()
                for cell in drawn(app, tabs.region):
                    lit += cell.text.strip() in ("Board", "Chat", "Chat •")
                    if cell.ratio < AA_TEXT:
                        failures.append(f"{theme}: {cell.text!r} {cell.fg} on {cell.bg}")
                await pilot.press("ctrl+t")
        assert lit >= 2 * len(app.available_themes)
        assert not failures, "\n".join(failures[:40])
