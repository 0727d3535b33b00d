"""Text colours that stay legible in every theme: WCAG 2.x contrast, and `$legible-*` CSS
variables derived from the theme's own colours.

A theme's `$success` or `$text-muted` can sit too close to its background (textual-dark's
panel border under a pane title was 36,40,43 on 18,18,18). The app adds, for each colour
the board writes text in, a `$legible-<name>` variable: the theme's colour, moved towards
white on a dark background (black on a light one) just until it reaches WCAG AA's 4.5:1
against every background the board draws on. A colour that passes already is kept as is,
so the theme still looks like itself. ANSI themes keep their ANSI names: the terminal's own
palette decides those colours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.color import Color as RichColor
from rich.color import ColorParseError
from rich.terminal_theme import DEFAULT_TERMINAL_THEME, TerminalTheme
from textual.color import Color

AA_TEXT = 4.5  # WCAG 2.x AA, normal text
MARGIN = 0.15  # computed colours aim a little above the line, for blended backgrounds

# $legible-<name>: the theme variable it is derived from.
LEGIBLE_SOURCES: dict[str, str] = {
    "text": "foreground",
    "muted": "text-muted",
    "primary": "primary",
    "secondary": "secondary",
    "accent": "accent",
    "success": "success",
    "warning": "warning",
    "error": "error",
}
# The backgrounds text is drawn on: the screen, inputs, the header and footer, the
# operator's lines in the chat ($boost over the screen), and each of them focus-tinted.
BACKGROUNDS = ("background", "surface", "panel")
FOCUS_TINT = 0.05


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0 black .. 1 white)."""
    r, g, b = rgb
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    """WCAG 2.x contrast ratio, 1 (same) .. 21 (black on white)."""
    a, b = luminance(fg), luminance(bg)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def legible(fg: Color, backgrounds: Iterable[Color], minimum: float = AA_TEXT) -> Color:
    """`fg` (alpha blended onto each background) moved towards white or black, in small
    steps, until its contrast with every one of `backgrounds` is at least `minimum`."""
    grounds = list(backgrounds)
    base = grounds[0]
    solid = base.blend(fg.with_alpha(1.0), fg.a) if fg.a < 1 else fg
    dark_ground = luminance(base.rgb) < 0.18
    target = Color(255, 255, 255) if dark_ground else Color(0, 0, 0)
    colour = solid
    for step in range(41):
        colour = solid.blend(target, step / 40)
        if min(contrast(colour.rgb, g.rgb) for g in grounds) >= minimum:
            return colour
    return colour


def legible_variables(
    variables: Mapping[str, str], terminal: TerminalTheme | None = None
) -> dict[str, str]:
    """The `$legible-*` variables for a theme's generated CSS variables (`terminal`: the
    palette ANSI colours are judged in, Textual's own by default)."""
    grounds = [_parse(variables.get(name, ""), None) for name in BACKGROUNDS]
    solid = [g for g in grounds if g is not None and g.ansi is None]
    ansi = len(solid) != len(grounds)
    boost = _parse(variables.get("boost", ""), None)
    if not ansi and boost is not None and boost.ansi is None:
        solid.append(solid[0] + boost)
    foreground = _parse(variables.get("foreground", ""), None)
    if not ansi and foreground is not None and foreground.ansi is None:
        # A focused log, list or table: Textual tints it with `$foreground 5%`.
        solid += [ground.blend(foreground, FOCUS_TINT) for ground in solid]
    out: dict[str, str] = {}
    for name, source in LEGIBLE_SOURCES.items():
        colour = _parse(variables.get(source, ""), solid[0] if solid else None)
        if ansi or colour is None or colour.ansi is not None:
            out[f"legible-{name}"] = _ansi_choice(source, variables, terminal)
            continue
        out[f"legible-{name}"] = legible(colour, solid, AA_TEXT + MARGIN).hex
    out.update(_filled(variables))
    if not ansi:
        out.update(_footer(variables))
        # Textual's own widgets (labels, Markdown, tables) read these: the same fix for them.
        out["foreground"] = out["legible-text"]
        out["text-muted"] = out["legible-muted"]
        for level in range(1, 7):
            name = f"markdown-h{level}-color"
            colour = _parse(variables.get(name, ""), solid[0])
            if colour is not None and colour.ansi is None:
                out[name] = legible(colour, solid, AA_TEXT + MARGIN).hex
    return out


def _footer(variables: Mapping[str, str]) -> dict[str, str]:
    """The footer's own colours (a theme may set them) at AA on the footer's background."""
    ground = _parse(variables.get("footer-background", ""), None)
    if ground is None or ground.ansi is not None:
        return {}
    out: dict[str, str] = {}
    for name in ("footer-key-foreground", "footer-description-foreground", "footer-foreground"):
        colour = _parse(variables.get(name, ""), ground)
        if colour is not None and colour.ansi is None:
            out[name] = legible(colour, [ground], AA_TEXT + MARGIN).hex
    return out


# Text on a filled background: a button of that variant, the cursor row of a table or list.
FILLED: dict[str, tuple[str, str]] = {
    "legible-on-primary": ("button-color-foreground", "primary"),
    "legible-on-error": ("button-color-foreground", "error"),
    "block-cursor-foreground": ("block-cursor-foreground", "block-cursor-background"),
    "block-cursor-blurred-foreground": (
        "block-cursor-blurred-foreground",
        "block-cursor-blurred-background",
    ),
}


def _filled(variables: Mapping[str, str]) -> dict[str, str]:
    """Text colours at AA on a filled ground ($primary, $error, the block cursor): the
    theme's own, moved towards white or black. A focused button is drawn reversed, the
    same two colours swapped, so it passes too."""
    # Defined in every theme (the CSS reads them); an ANSI fill keeps the theme's own.
    out = {
        n: variables.get(t) or "ansi_default" for n, (t, _) in FILLED.items() if n[:8] == "legible-"
    }
    for name, (text, fill) in FILLED.items():
        ground = _parse(variables.get(fill, ""), None)
        if ground is None or ground.ansi is not None:
            continue
        if ground.a < 1:  # a see-through fill: judged on the screen's background
            base = _parse(variables.get("background", ""), None)
            if base is None or base.ansi is not None:
                continue
            ground = base.blend(ground.with_alpha(1.0), ground.a)
        grounds = [ground]
        foreground = _parse(variables.get("foreground", ""), None)
        if foreground is not None and foreground.ansi is None:  # a focused button's tint
            grounds.append(ground.blend(foreground, FOCUS_TINT))
        colour = _parse(variables.get(text, ""), ground)
        if colour is not None and colour.ansi is None:
            out[name] = legible(colour, grounds, AA_TEXT + MARGIN).hex
    return out


def _parse(value: str, ground: Color | None) -> Color | None:
    """One colour from a CSS value: `#hex`, `name`, `colour 60%` or Textual's `auto 60%`
    (the contrasting text colour of `ground` at that alpha)."""
    parts = value.split()
    if not parts:
        return None
    alpha = 1.0
    if len(parts) == 2 and parts[1].endswith("%"):
        alpha = float(parts[1].rstrip("%")) / 100
    elif len(parts) != 1:
        return None
    if parts[0] == "auto":
        return None if ground is None else ground.get_contrast_text(alpha)
    try:
        colour = Color.parse(parts[0])
    except ValueError:
        return None
    return colour if alpha == 1.0 else colour.with_alpha(alpha)


def _ansi_choice(source: str, variables: Mapping[str, str], terminal: TerminalTheme | None) -> str:
    """An ANSI theme keeps ANSI names (the terminal's palette draws them): the theme's
    colour, else its plain (not bright) variant, else the default foreground, whichever
    first reaches AA on the default background of `terminal`."""
    value = variables.get(source, "")
    if source in ("foreground", "text-muted") or len(value.split()) != 1:
        return "ansi_default"
    palette = terminal or DEFAULT_TERMINAL_THEME
    ground = palette.background_color
    for name in (value, value.replace("ansi_bright_", "ansi_")):
        try:
            rich = RichColor.parse(name.removeprefix("ansi_"))
        except ColorParseError:
            continue
        rgb = rich.get_truecolor(palette, foreground=True)
        bg = (ground.red, ground.green, ground.blue)
        if contrast((rgb.red, rgb.green, rgb.blue), bg) >= AA_TEXT:
            return name
    return "ansi_default"
