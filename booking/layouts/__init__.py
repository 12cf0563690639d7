"""Seat layouts: the JSON format of buses.seat_layout_config, its validation and the built-ins.

The format is described in docs/seat-layouts.md.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

SEAT_TYPES = ("standard", "premium", "sleeper")
CELL_WORDS = ("aisle", "gap")
LAYOUT_KEYS = ("name", "decks")
DECK_KEYS = ("name", "rows")
SEAT_KEYS = ("number", "type", "price_modifier", "ladies_only")
CENT = Decimal("0.01")
# Seat prices are stored as NUMERIC(12, 2); anything larger could not be saved.
MAX_PRICE_MODIFIER = Decimal("9999999999.99")
DECKS_NEEDED = "The layout needs a 'decks' list with 1 or 2 decks"
_NUMBER = re.compile(r"[A-Z0-9]{1,8}")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)

BUILTIN_LAYOUTS: dict[str, str] = {
    "seater_2x2_40": "2+2 seater, 40 seats in 10 rows, front row premium",
    "sleeper_2x1": "2+1 sleeper on two decks, 36 berths, lower berths cost more",
    "semi_sleeper": "Semi sleeper: 28 seats (2+2) below, 12 berths (1+1) above",
}


@dataclass(frozen=True)
class SeatSpec:
    """One seat or berth of a layout; deck, row and column count from 0."""

    number: str
    deck: int
    row: int
    column: int
    seat_type: str
    price_modifier: Decimal
    ladies_only: bool
    is_window: bool

    def columns(self) -> dict[str, Any]:
        """Where the seat sits and what it is, as the seats table's columns."""
        return {
            "deck": self.deck,
            "row_index": self.row,
            "column_index": self.column,
            "seat_type": self.seat_type,
            "price_modifier": self.price_modifier,
            "ladies_only": self.ladies_only,
            "is_window": self.is_window,
        }


class LayoutError(ValueError):
    """A layout that does not validate; .errors lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        """Keep the problems and show them joined by '; '."""
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def validate_layout(config: Any, total_seats: int | None = None) -> list[str]:
    """Every problem of a layout, worded for people; an empty list when it is valid."""
    return _walk(config, total_seats)[0]


def parse_layout(config: Any, total_seats: int | None = None) -> list[SeatSpec]:
    """The seats of a valid layout in reading order (deck, row, column); LayoutError if invalid."""
    errors, seats = _walk(config, total_seats)
    if errors:
        raise LayoutError(errors)
    return seats


def seat_count(config: Any) -> int:
    """How many seats a valid layout has; LayoutError if invalid."""
    return len(parse_layout(config))


def deck_names(config: Any) -> list[str]:
    """The names of a valid layout's decks, lower deck first; LayoutError if invalid."""
    parse_layout(config)
    decks = config["decks"]
    return [_deck_name(deck, d, len(decks)) for d, deck in enumerate(decks)]


def load_builtin(key: str) -> dict[str, Any]:
    """A fresh copy of a built-in layout, read from the package's JSON file."""
    if key not in BUILTIN_LAYOUTS:
        raise KeyError(
            f"unknown built-in layout {key!r} (choose from {', '.join(BUILTIN_LAYOUTS)})"
        )
    text = resources.files(__name__).joinpath(f"{key}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _walk(config: Any, total_seats: int | None) -> tuple[list[str], list[SeatSpec]]:
    """Check a whole layout: its problems, and the seats whose numbers are usable."""
    errors = []
    if isinstance(config, dict):
        errors += [f"The layout: {e}" for e in _unknown_keys(config, LAYOUT_KEYS)]
        if not isinstance(config.get("name", ""), str):
            errors.append(f"The layout's 'name' must be text, not {_show(config['name'])}")
    decks = config.get("decks") if isinstance(config, dict) else None
    if not isinstance(decks, list) or not 1 <= len(decks) <= 2:
        found = f" (it has {len(decks)})" if isinstance(decks, list) and decks else ""
        return [DECKS_NEEDED + found, *errors], []

    names = [_deck_name(deck, d, len(decks)) for d, deck in enumerate(decks)]
    if len(set(names)) < len(names):
        errors.append(f"Both decks are named '{names[0]}'; give them different names")
    seats, seat_objects = [], 0
    for d, deck in enumerate(decks):
        deck_errors, deck_seats, count = _check_deck(deck, d, names[d])
        errors += deck_errors
        seats += deck_seats
        seat_objects += count

    places: dict[str, list[str]] = {}
    for s in seats:
        places.setdefault(s.number, []).append(
            f"{names[s.deck]} row {s.row + 1} cell {s.column + 1}"
        )
    for number, where in places.items():
        if len(where) > 1:
            times = "twice" if len(where) == 2 else f"{len(where)} times"
            errors.append(f"Seat number {number} is used {times}: {_join(where)}")
    if total_seats is not None and seat_objects != total_seats:
        errors.append(
            f"The layout has {_plural(seat_objects, 'seat')} "
            f"but the bus says total_seats is {total_seats}"
        )
    return errors, seats


def _check_deck(deck: Any, d: int, name: str) -> tuple[list[str], list[SeatSpec], int]:
    """Check one deck: its problems, its usable seats and how many seat objects it has."""
    if not isinstance(deck, dict):
        return [f"Deck {d + 1} must be an object with a 'rows' list, not {_show(deck)}"], [], 0
    errors = [f"{name}: {e}" for e in _unknown_keys(deck, DECK_KEYS)]
    if "name" in deck and not (isinstance(deck["name"], str) and deck["name"].strip()):
        errors.append(
            f"Deck {d + 1}: 'name' must be non-empty text, or leave it out to get '{name}'"
        )
    rows = deck.get("rows")
    if not isinstance(rows, list) or not rows:
        return [*errors, f"{name} needs a 'rows' list with at least one row"], [], 0

    widths = [len(row) for row in rows if isinstance(row, list) and row]
    width, usual = Counter(widths).most_common(1)[0] if widths else (0, 0)
    seats, seat_objects = [], 0
    for r, row in enumerate(rows):
        where = f"{name}, row {r + 1}"
        if not isinstance(row, list):
            errors.append(f"{where} must be a list of cells, not {_show(row)}")
            continue
        if not row:
            errors.append(f"{where} has no cells (add cells or remove the row)")
            continue
        if len(row) != width:
            if usual == len(widths) - 1:
                errors.append(f"{where} has {len(row)} cells; the other rows have {width}")
            else:
                errors.append(
                    f"{where} has {len(row)} cells but row {widths.index(width) + 1} "
                    f"has {width}; give every row the same number of cells"
                )
        for c, cell in enumerate(row):
            if isinstance(cell, dict):
                seat_objects += 1
                seat_errors, seat = _check_seat(cell, d, r, c, len(row))
                errors += [f"{where}, cell {c + 1}: {e}" for e in seat_errors]
                if seat:
                    seats.append(seat)
            elif cell is not None and cell not in CELL_WORDS:
                errors.append(
                    f"{where}, cell {c + 1}: unknown cell {_show(cell)} "
                    "(use 'aisle', 'gap', null or a seat object)"
                )
    if not seat_objects:
        errors.append(f"{name} has no seats")
    return errors, seats, seat_objects


def _check_seat(
    seat: dict, d: int, r: int, c: int, width: int
) -> tuple[list[str], SeatSpec | None]:
    """Check one seat object: its problems, and its spec when the number is usable."""
    errors = _unknown_keys(seat, SEAT_KEYS)
    number = seat.get("number")
    if number is None:
        errors.append("the seat has no 'number' (add one such as '1A')")
    elif not isinstance(number, str) or not _NUMBER.fullmatch(number):
        fixed = number.strip().upper() if isinstance(number, str) else ""
        hint = f"; did you mean '{fixed}'?" if _NUMBER.fullmatch(fixed) else ""
        errors.append(
            f"seat number {_show(number)} is not valid "
            f"(use 1-8 upper-case letters and digits, such as '1A'{hint})"
        )
    seat_type = seat.get("type", "standard")
    if seat_type not in SEAT_TYPES:
        errors.append(f"unknown seat type {_show(seat_type)} (use standard, premium or sleeper)")
    price, problem = _price(seat.get("price_modifier", "0"))
    if problem:
        errors.append(problem)
    ladies_only = seat.get("ladies_only", False)
    if not isinstance(ladies_only, bool):
        errors.append(f"ladies_only must be true or false, not {_show(ladies_only)}")
    if not isinstance(number, str) or not _NUMBER.fullmatch(number):
        return errors, None
    # Bad fields fall back to defaults so duplicate numbers are still found; errors block use.
    return errors, SeatSpec(
        number=number,
        deck=d,
        row=r,
        column=c,
        seat_type=seat_type if seat_type in SEAT_TYPES else "standard",
        price_modifier=price if price is not None else Decimal("0.00"),
        ladies_only=ladies_only is True,
        is_window=c in (0, width - 1),
    )


def _price(value: Any) -> tuple[Decimal | None, str | None]:
    """A price modifier as a Decimal with two places, or the problem with it."""
    shown = _show(value)
    not_a_number = f"price_modifier {shown} is not a number (use a decimal such as '50.00')"
    # bool is an int to Python but never a price in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, not_a_number
    if isinstance(value, str):
        value = value.strip()
        if not _DECIMAL.fullmatch(value):
            return None, not_a_number
    # repr() keeps a float's short form: 0.1 stays 0.1, not its binary expansion.
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite():
        return None, not_a_number
    if amount < 0:
        return None, f"price_modifier {shown} must not be negative (use 0 or more)"
    if amount > MAX_PRICE_MODIFIER:
        return None, f"price_modifier {shown} is too large (at most {MAX_PRICE_MODIFIER})"
    if amount != amount.quantize(CENT):
        rounded = amount.quantize(CENT, ROUND_HALF_UP)
        return None, (
            f"price_modifier {shown} has more than 2 decimal places (round it, e.g. to '{rounded}')"
        )
    # abs() turns "-0" into 0.00 rather than -0.00.
    return abs(amount.quantize(CENT)), None


def _unknown_keys(obj: dict, allowed: tuple[str, ...]) -> list[str]:
    """One problem per key the format does not know, suggesting the key a typo was meant to be."""
    problems = []
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed)
            problems.append(f"unknown key {_show(key)} ({hint})")
    return problems


def _deck_name(deck: Any, d: int, count: int) -> str:
    """The deck's own name, else 'Deck' for a single deck or 'Lower deck'/'Upper deck'."""
    own = deck.get("name") if isinstance(deck, dict) else None
    if isinstance(own, str) and own.strip():
        return own.strip()
    return "Deck" if count == 1 else ("Lower deck", "Upper deck")[d]


def _show(value: Any) -> str:
    """A value as a person reads it: text in quotes, anything else as JSON, cut short."""
    if isinstance(value, str):
        text = f"'{value}'"
    else:
        try:
            text = json.dumps(value, default=str)
        except ValueError:  # a structure that contains itself
            text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _join(items: list[str]) -> str:
    """'a', 'a and b' or 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, word: str) -> str:
    """'1 seat', '2 seats'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
