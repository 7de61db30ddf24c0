"""The README's configuration table and service/settings.py list the same settings, with
the same defaults; Settings' own defaults agree with OPTIONS."""
import dataclasses
import re

from service.settings import OPTIONS, SWITCHES, Settings
from tests.support import ROOT


def configuration_table():
    """{(flag, env): default} of every row of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration"):]
    rows = {}
    for line in section.splitlines()[2:]:
        if rows and not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Flag", "---"):
            continue
        rows[(cells[0] or None, cells[1] or None)] = cells[2]
    return rows


def test_the_readme_table_lists_every_setting_and_nothing_else():
    documented = configuration_table()
    declared = {(option.flag, option.env) for option in OPTIONS} | {(switch, None) for switch in SWITCHES}
    assert set(documented) == declared


def test_the_readme_table_gives_each_numeric_default():
    documented = configuration_table()
    for option in OPTIONS:
        if isinstance(option.default, (int, float)) and not isinstance(option.default, bool):
            cell = documented[(option.flag, option.env)]
            assert re.fullmatch(r"[0-9.]+", cell) and float(cell) == option.default, (option.env, cell)


def test_settings_defaults_are_the_options_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for option in OPTIONS:
        if option.parse is not None:
            assert defaults[option.field] == option.default, option.field
