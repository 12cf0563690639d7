"""Tests of booking.layouts: the seat layout format, its error messages and the built-ins."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from booking.layouts import (
    BUILTIN_LAYOUTS,
    LayoutError,
    SeatSpec,
    deck_names,
    load_builtin,
    parse_layout,
    seat_count,
    validate_layout,
)

DECKS_NEEDED = "The layout needs a 'decks' list with 1 or 2 decks"


def seat(number: str, **fields) -> dict:
    """A seat object."""
    return {"number": number, **fields}


def one_deck(*rows: list) -> dict:
    """A single-deck layout of the given rows."""
    return {"decks": [{"rows": list(rows)}]}


def two_decks(lower: list, upper: list) -> dict:
    """A two-deck layout, each deck given as its rows."""
    return {"decks": [{"rows": lower}, {"rows": upper}]}


def only_error(config, total_seats: int | None = None) -> str:
    """The single problem of a layout that has exactly one."""
    errors = validate_layout(config, total_seats)
    assert len(errors) == 1, errors
    return errors[0]


def bad_seat_error(**fields) -> str:
    """The problem with seat 1B (row 1, cell 2) carrying the given fields."""
    return only_error(one_deck([seat("1A"), {"number": "1B", **fields}]))


# Built-in layouts


def test_builtin_keys_are_the_three_documented_ones():
    assert set(BUILTIN_LAYOUTS) == {"seater_2x2_40", "sleeper_2x1", "semi_sleeper"}
    assert all(BUILTIN_LAYOUTS.values())


@pytest.mark.parametrize(
    ("key", "total", "per_deck"),
    [("seater_2x2_40", 40, [40]), ("sleeper_2x1", 36, [18, 18]), ("semi_sleeper", 40, [28, 12])],
)
def test_builtin_validates_with_its_counts_and_ladies_seats(key, total, per_deck):
    config = load_builtin(key)
    assert validate_layout(config, total_seats=total) == []
    seats = parse_layout(config, total_seats=total)
    assert seat_count(config) == total
    assert [sum(s.deck == d for s in seats) for d in range(len(per_deck))] == per_deck
    for d in range(len(per_deck)):
        assert any(s.ladies_only for s in seats if s.deck == d), f"deck {d} has no ladies seats"


def test_seater_2x2_40():
    config = load_builtin("seater_2x2_40")
    seats = parse_layout(config)
    assert deck_names(config) == ["Seats"]
    assert [s.number for s in seats] == [f"{r}{c}" for r in range(1, 11) for c in "ABCD"]
    assert all(row[2] == "aisle" and len(row) == 5 for row in config["decks"][0]["rows"])
    by_number = {s.number: s for s in seats}
    for number in ("1A", "1B", "1C", "1D"):
        assert by_number[number].seat_type == "premium"
        assert by_number[number].price_modifier == Decimal("50.00")
    rest = [s for s in seats if s.row > 0]
    assert {(s.seat_type, s.price_modifier) for s in rest} == {("standard", Decimal("0.00"))}
    assert {"3A", "3B", "4A"} <= {s.number for s in seats if s.ladies_only}
    assert {s.number for s in seats if s.is_window and s.row == 4} == {"5A", "5D"}


def test_sleeper_2x1():
    config = load_builtin("sleeper_2x1")
    seats = parse_layout(config)
    assert deck_names(config) == ["Lower deck", "Upper deck"]
    assert {s.seat_type for s in seats} == {"sleeper"}
    lower = [s for s in seats if s.deck == 0]
    upper = [s for s in seats if s.deck == 1]
    assert [s.number for s in lower] == [f"L{n}" for n in range(1, 19)]
    assert [s.number for s in upper] == [f"U{n}" for n in range(1, 19)]
    assert {s.price_modifier for s in lower} == {Decimal("100.00")}
    assert {s.price_modifier for s in upper} == {Decimal("0.00")}
    for deck in config["decks"]:
        assert len(deck["rows"]) == 6
        for row in deck["rows"]:
            assert isinstance(row[0], dict) and row[1] == "aisle" and len(row) == 4
    # The single berth on the left and the outer berth on the right are by the window.
    assert [s.is_window for s in lower[:3]] == [True, False, True]


def test_semi_sleeper():
    config = load_builtin("semi_sleeper")
    seats = parse_layout(config)
    assert deck_names(config) == ["Lower deck", "Upper deck"]
    lower = [s for s in seats if s.deck == 0]
    upper = [s for s in seats if s.deck == 1]
    assert [s.number for s in lower] == [f"{r}{c}" for r in range(1, 8) for c in "ABCD"]
    assert {s.seat_type for s in lower} == {"standard"}
    assert [s.number for s in upper] == [f"U{n}" for n in range(1, 13)]
    assert {(s.seat_type, s.price_modifier) for s in upper} == {("sleeper", Decimal("150.00"))}
    assert all(row[1] == "aisle" and len(row) == 3 for row in config["decks"][1]["rows"])
    assert all(s.is_window for s in upper)


def test_load_builtin_returns_a_fresh_copy():
    first = load_builtin("seater_2x2_40")
    first["decks"][0]["rows"][0][0]["number"] = "ZZ"
    first["decks"].append({"rows": []})
    second = load_builtin("seater_2x2_40")
    assert second["decks"][0]["rows"][0][0]["number"] == "1A"
    assert len(second["decks"]) == 1
    assert second is not first


def test_load_builtin_unknown_key_names_the_choices():
    with pytest.raises(KeyError, match="seater_2x2_40"):
        load_builtin("../pyproject")


# Parsing: positions, windows, defaults


def test_seats_come_in_reading_order_with_positions_from_zero():
    config = two_decks(
        [[seat("1A"), "aisle", seat("1B")], [seat("2A"), "aisle", seat("2B")]],
        [[seat("U1"), seat("U2")]],
    )
    positions = [(s.number, s.deck, s.row, s.column) for s in parse_layout(config)]
    assert positions == [
        ("1A", 0, 0, 0),
        ("1B", 0, 0, 2),
        ("2A", 0, 1, 0),
        ("2B", 0, 1, 2),
        ("U1", 1, 0, 0),
        ("U2", 1, 0, 1),
    ]


def test_window_seats_are_the_first_and_last_cells_of_a_row():
    config = one_deck(
        [seat("1A"), seat("1B"), "aisle", seat("1C"), seat("1D")],
        [seat("2A"), seat("2B"), "aisle", seat("2C"), "gap"],
        [None, seat("3B"), "aisle", seat("3C"), seat("3D")],
    )
    windows = {s.number for s in parse_layout(config) if s.is_window}
    # 2C and 3B sit beside empty space, not beside the window.
    assert windows == {"1A", "1D", "2A", "3D"}


def test_seat_defaults():
    (spec,) = parse_layout(one_deck([seat("7")]))
    assert spec == SeatSpec(
        number="7",
        deck=0,
        row=0,
        column=0,
        seat_type="standard",
        price_modifier=Decimal("0.00"),
        ladies_only=False,
        is_window=True,
    )
    assert spec.price_modifier.as_tuple().exponent == -2


def test_seat_spec_is_frozen():
    (spec,) = parse_layout(one_deck([seat("1A")]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.number = "2A"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("50", "50.00"),
        ("12.5", "12.50"),
        (" 7.25 ", "7.25"),
        (10, "10.00"),
        (0.1, "0.10"),
        (99.99, "99.99"),
        ("-0", "0.00"),
        ("1.500", "1.50"),
    ],
)
def test_price_modifier_is_a_decimal_with_two_places(given, expected):
    (spec,) = parse_layout(one_deck([seat("1A", price_modifier=given)]))
    assert isinstance(spec.price_modifier, Decimal)
    assert str(spec.price_modifier) == expected


def test_all_seat_fields_are_read():
    cell = seat("2B", type="premium", price_modifier="25.50", ladies_only=True)
    spec = parse_layout(one_deck([seat("2A"), cell, seat("2C")]))[1]
    assert (spec.seat_type, spec.price_modifier, spec.ladies_only, spec.is_window) == (
        "premium",
        Decimal("25.50"),
        True,
        False,
    )


def test_deck_names_default_and_custom():
    assert deck_names(one_deck([seat("1A")])) == ["Deck"]
    assert deck_names(two_decks([[seat("L1")]], [[seat("U1")]])) == ["Lower deck", "Upper deck"]
    named = {"decks": [{"name": "Seats", "rows": [[seat("1A")]]}, {"rows": [[seat("U1")]]}]}
    assert deck_names(named) == ["Seats", "Upper deck"]


def test_aisle_gap_and_null_cells_are_accepted():
    config = one_deck([seat("1A"), "aisle", "gap", None, seat("1B")])
    assert validate_layout(config) == []
    assert seat_count(config) == 2


def test_layout_name_is_optional_text():
    assert validate_layout({"name": "Volvo 9400", **one_deck([seat("1A")])}) == []
    error = only_error({"name": 5, **one_deck([seat("1A")])})
    assert "'name' must be text" in error


# Error messages: each names the place and what to do


def test_unknown_seat_type():
    assert bad_seat_error(type="vip") == (
        "Deck, row 1, cell 2: unknown seat type 'vip' (use standard, premium or sleeper)"
    )


def test_messages_use_the_deck_name():
    rows = [[seat("1A"), seat("1B")], [seat("2A"), seat("2B")], [seat("3A"), seat("3B", type="x")]]
    config = {"decks": [{"name": "Lower deck", "rows": rows}, {"rows": [[seat("U1")]]}]}
    assert only_error(config) == (
        "Lower deck, row 3, cell 2: unknown seat type 'x' (use standard, premium or sleeper)"
    )


def test_duplicate_seat_number_across_decks():
    config = two_decks(
        [
            [seat("1A"), seat("1B"), "aisle", seat("1C")],
            [seat("2A"), seat("2B"), "aisle", seat("4B")],
        ],
        [[seat("4B"), seat("U2")]],
    )
    assert only_error(config) == (
        "Seat number 4B is used twice: Lower deck row 2 cell 4 and Upper deck row 1 cell 1"
    )


def test_duplicate_seat_number_three_times():
    error = only_error(one_deck([seat("1A"), seat("1A"), seat("1A")]))
    assert error == (
        "Seat number 1A is used 3 times: Deck row 1 cell 1, Deck row 1 cell 2 and Deck row 1 cell 3"
    )


def test_duplicate_found_even_when_the_seats_have_other_problems():
    errors = validate_layout(one_deck([seat("1A", type="vip"), seat("1A", ladies_only="no")]))
    assert any(e.startswith("Seat number 1A is used twice") for e in errors)


def test_total_seats_mismatch():
    config = one_deck(*[[seat(f"{r}A"), seat(f"{r}B")] for r in range(1, 20)])
    assert only_error(config, total_seats=40) == (
        "The layout has 38 seats but the bus says total_seats is 40"
    )
    assert validate_layout(config, total_seats=38) == []
    assert parse_layout(config, total_seats=38)


def test_total_seats_counts_seats_with_problems_too():
    errors = validate_layout(one_deck([seat("1A"), seat("1B", type="vip")]), total_seats=2)
    assert errors == [
        "Deck, row 1, cell 2: unknown seat type 'vip' (use standard, premium or sleeper)"
    ]


def test_deck_without_seats():
    config = two_decks([[seat("L1")]], [["gap", "aisle"], [None, "gap"]])
    assert only_error(config) == "Upper deck has no seats"


def test_rows_of_different_lengths():
    rows = [
        [seat(f"{r}A"), seat(f"{r}B"), "aisle", seat(f"{r}C"), seat(f"{r}D")] for r in range(1, 5)
    ]
    rows.append([seat("5A"), seat("5B"), "aisle", seat("5C")])
    config = {"decks": [{"name": "Lower deck", "rows": rows}, {"rows": [[seat("U1")]]}]}
    assert only_error(config) == "Lower deck, row 5 has 4 cells; the other rows have 5"


def test_rows_of_many_lengths_say_to_make_them_equal():
    config = one_deck([seat("1A"), seat("1B")], [seat("2A"), seat("2B")], [seat("3A")], ["gap"] * 3)
    errors = validate_layout(config)
    assert "Deck, row 3 has 1 cells but row 1 has 2; give every row the same number of cells" in (
        errors
    )
    assert len(errors) == 2


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-5", "price_modifier '-5' must not be negative (use 0 or more)"),
        (-0.5, "price_modifier -0.5 must not be negative (use 0 or more)"),
        ("abc", "price_modifier 'abc' is not a number (use a decimal such as '50.00')"),
        ("", "price_modifier '' is not a number"),
        ("1e3", "price_modifier '1e3' is not a number"),
        ("NaN", "price_modifier 'NaN' is not a number"),
        (float("inf"), "price_modifier Infinity is not a number"),
        (True, "price_modifier true is not a number"),
        (None, "price_modifier null is not a number"),
        ([1], "price_modifier [1] is not a number"),
        (
            "1.005",
            "price_modifier '1.005' has more than 2 decimal places (round it, e.g. to '1.01')",
        ),
        (0.125, "price_modifier 0.125 has more than 2 decimal places (round it, e.g. to '0.13')"),
        (10**20, "price_modifier 100000000000000000000 is too large (at most 9999999999.99)"),
    ],
)
def test_bad_price_modifier(value, problem):
    error = bad_seat_error(price_modifier=value)
    assert error.startswith("Deck, row 1, cell 2: " + problem), error


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (
            "1a",
            "seat number '1a' is not valid (use 1-8 upper-case letters and digits, such as "
            "'1A'; did you mean '1A'?)",
        ),
        (
            "ABCDEFGHJ",
            "seat number 'ABCDEFGHJ' is not valid (use 1-8 upper-case letters and digits",
        ),
        ("1-A", "seat number '1-A' is not valid"),
        ("", "seat number '' is not valid"),
        ("1A\n", "seat number '1A\n' is not valid"),
        ("\uff11A", "seat number '\uff11A' is not valid"),  # a full-width digit one
        (12, "seat number 12 is not valid"),
        (None, "the seat has no 'number' (add one such as '1A')"),
    ],
)
def test_bad_seat_number(number, problem):
    assert bad_seat_error(number=number).startswith("Deck, row 1, cell 2: " + problem)


def test_missing_seat_number():
    error = only_error(one_deck([seat("1A"), {"type": "premium"}]))
    assert error == "Deck, row 1, cell 2: the seat has no 'number' (add one such as '1A')"


def test_longest_seat_number_is_accepted():
    assert validate_layout(one_deck([seat("ABCDEFG8")])) == []


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "true"])
def test_ladies_only_must_be_boolean(value):
    error = bad_seat_error(ladies_only=value)
    assert error.startswith("Deck, row 1, cell 2: ladies_only must be true or false, not ")


def test_unknown_key_in_seat_suggests_the_right_one():
    assert bad_seat_error(ladies_onyl=True) == (
        "Deck, row 1, cell 2: unknown key 'ladies_onyl' (did you mean 'ladies_only'?)"
    )
    error = bad_seat_error(colour="red")
    assert error == (
        "Deck, row 1, cell 2: unknown key 'colour' "
        "(allowed: number, type, price_modifier, ladies_only)"
    )


def test_unknown_keys_in_deck_and_layout():
    config = {"decks": [{"rows": [[seat("1A")]], "nmae": "Lower"}], "version": 2}
    errors = validate_layout(config)
    assert "The layout: unknown key 'version' (allowed: name, decks)" in errors
    assert "Deck: unknown key 'nmae' (did you mean 'name'?)" in errors
    assert len(errors) == 2


def test_misspelt_decks_key_is_pointed_out():
    errors = validate_layout({"deck": [{"rows": [[seat("1A")]]}]})
    assert errors == [DECKS_NEEDED, "The layout: unknown key 'deck' (did you mean 'decks'?)"]


@pytest.mark.parametrize("cell", ["Aisle", "door", "", 0, True, [], ["aisle"]])
def test_unknown_cell(cell):
    error = only_error(one_deck([seat("1A"), cell]))
    assert error.startswith("Deck, row 1, cell 2: unknown cell ")
    assert error.endswith("(use 'aisle', 'gap', null or a seat object)")


def test_bad_deck_name():
    config = two_decks([[seat("L1")]], [[seat("U1")]])
    config["decks"][1]["name"] = "  "
    assert only_error(config) == (
        "Deck 2: 'name' must be non-empty text, or leave it out to get 'Upper deck'"
    )


def test_decks_with_the_same_name():
    config = {
        "decks": [
            {"name": "Sleeper", "rows": [[seat("L1")]]},
            {"name": "Sleeper", "rows": [[seat("U1")]]},
        ]
    }
    assert only_error(config) == "Both decks are named 'Sleeper'; give them different names"


@pytest.mark.parametrize(
    ("deck", "problem"),
    [
        (None, "Deck 1 must be an object with a 'rows' list, not null"),
        ("rows", "Deck 1 must be an object with a 'rows' list, not 'rows'"),
        ({}, "Deck needs a 'rows' list with at least one row"),
        ({"rows": []}, "Deck needs a 'rows' list with at least one row"),
        ({"rows": {"1": []}}, "Deck needs a 'rows' list with at least one row"),
    ],
)
def test_bad_deck(deck, problem):
    assert validate_layout({"decks": [deck]}) == [problem]


def test_bad_rows():
    errors = validate_layout(one_deck([seat("1A")], [], "1B", None))
    assert errors == [
        "Deck, row 2 has no cells (add cells or remove the row)",
        "Deck, row 3 must be a list of cells, not '1B'",
        "Deck, row 4 must be a list of cells, not null",
    ]


@pytest.mark.parametrize(
    "config",
    [
        None,
        [],
        "x",
        "",
        3,
        2.5,
        True,
        {},
        {"decks": None},
        {"decks": "x"},
        {"decks": {}},
        {"decks": []},
        [{"rows": [[{"number": "1A"}]]}],
    ],
)
def test_garbage_input(config):
    assert validate_layout(config) == [DECKS_NEEDED]
    with pytest.raises(LayoutError):
        parse_layout(config)
    with pytest.raises(LayoutError):
        seat_count(config)
    with pytest.raises(LayoutError):
        deck_names(config)


def test_three_decks():
    deck = {"rows": [[seat("1A")]]}
    assert validate_layout({"decks": [deck, deck, deck]}) == [DECKS_NEEDED + " (it has 3)"]


@pytest.mark.parametrize(
    "junk",
    [
        None,
        0,
        -1,
        1.5,
        "",
        "aisle",
        [],
        [[]],
        {},
        {"number": {}},
        {"number": []},
        {"": None},
        {"number": "1A", "type": []},
        {"number": "1A", "price_modifier": {}},
        [None, [None, {}]],
        {1: 2},
        float("nan"),
    ],
)
def test_never_raises_on_junk_anywhere(junk):
    # Junk as the layout, as a deck, as a row and as a cell.
    for config in (
        junk,
        {"decks": junk},
        {"decks": [junk]},
        one_deck(junk),
        one_deck([junk]),
        {"decks": [{"name": junk, "rows": [[seat("1A")]]}]},
        {"name": junk, "decks": [{"rows": [[seat("1A")]]}]},
    ):
        errors = validate_layout(config, total_seats=1)
        assert isinstance(errors, list)
        assert all(isinstance(e, str) and e for e in errors)


def test_self_containing_value_does_not_raise():
    cell: list = []
    cell.append(cell)
    assert validate_layout(one_deck([seat("1A"), cell]))


def test_parse_layout_raises_with_every_error():
    config = two_decks(
        [[seat("1A", type="vip"), seat("1b")], [seat("2A", price_modifier="-1")]],
        [["gap"]],
    )
    expected = validate_layout(config, total_seats=40)
    assert len(expected) == 6
    with pytest.raises(LayoutError) as caught:
        parse_layout(config, total_seats=40)
    assert caught.value.errors == expected
    assert str(caught.value) == "; ".join(expected)
    assert isinstance(caught.value, ValueError)
    assert "Upper deck has no seats" in expected
    assert "The layout has 3 seats but the bus says total_seats is 40" in expected


def test_layout_error_is_a_value_error_with_a_list():
    error = LayoutError(["a", "b"])
    assert error.errors == ["a", "b"]
    assert str(error) == "a; b"
    with pytest.raises(ValueError, match="a; b"):
        raise error
