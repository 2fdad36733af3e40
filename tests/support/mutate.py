"""Random damage to a text file, line by line: what the fast readers' soundness properties
(every fast "valid" must be tomllib's "valid") are fed with."""

from __future__ import annotations

from hypothesis import strategies as st

#: characters inserted at random: TOML's syntax, control characters, non-ASCII
NOISE = ['"', "\\", "[", "]", "=", "{", "}", ",", "\t", "\x01", "#", " ", "'", "\n", ".", "é", "0"]


def mutate(text: str, data: st.DataObject) -> str:
    """``text`` with one to three lines duplicated, dropped, swapped, cut or given a char."""
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["dup", "drop", "char", "swap", "cut"]))
        if action == "dup":
            lines.insert(i, lines[i])
        elif action == "drop":
            del lines[i]
        elif action == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif action == "cut" and lines[i]:
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i]) - 1))]
        elif lines[i]:
            at = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + data.draw(st.sampled_from(NOISE)) + lines[i][at:]
    return "\n".join(lines)
