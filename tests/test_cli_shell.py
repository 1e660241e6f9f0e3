from __future__ import annotations

import subprocess
import sys

from twostream.cli.main import COMMANDS, build_parser, main


def test_help_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name.replace("_", "-") in out


def test_every_command_has_one_line_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert command.description and "\n" not in command.description, name


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "twostream", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "twostream" in result.stdout
