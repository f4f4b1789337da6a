"""Options: defaults, validation with messages a person can act on, dict round trip."""
import math

import pytest

from app.core.options import MAX_FEATHER, MAX_SHIFT, Options, as_options


def test_defaults_refine_and_decontaminate_without_moving_the_edge():
    """The defaults refine edges, decontaminate, drop specks, keep every subject, no shift/feather."""
    options = Options()
    assert (options.refine_edges, options.decontaminate, options.remove_specks) == (True, True, True)
    assert options.keep_main_subject is False
    assert (options.shift_edge, options.feather) == (0.0, 0.0)


def test_options_are_frozen():
    """Options cannot change after validation."""
    with pytest.raises(AttributeError):
        Options().feather = 3


@pytest.mark.parametrize("values, words", [
    ({"feather": -1}, "feather must be between 0"),
    ({"feather": MAX_FEATHER + 1}, "feather must be between 0"),
    ({"shift_edge": MAX_SHIFT + 0.5}, "shift_edge must be between"),
    ({"shift_edge": -MAX_SHIFT - 0.5}, "shift_edge must be between"),
    ({"shift_edge": math.nan}, "finite number"),
    ({"feather": math.inf}, "finite number"),
    ({"feather": "2"}, "finite number"),
    ({"feather": True}, "finite number"),
    ({"decontaminate": 1}, "true or false"),
    ({"refine_edges": "yes"}, "true or false"),
])
def test_invalid_values_are_refused_with_the_field_named(values, words):
    """Every out-of-range or mistyped value raises ValueError naming the field."""
    with pytest.raises(ValueError, match=words):
        Options(**values)


def test_limits_themselves_are_accepted():
    """The documented limits are inclusive; ints are accepted for pixel amounts."""
    Options(shift_edge=-MAX_SHIFT, feather=MAX_FEATHER)
    Options(shift_edge=2, feather=0)


def test_from_dict_refuses_unknown_names_and_round_trips():
    """Unknown keys are refused (naming them); to_dict/from_dict round-trip."""
    with pytest.raises(ValueError, match="unknown option.*edge_sharpness"):
        Options.from_dict({"edge_sharpness": 1})
    options = Options(shift_edge=-1.5, feather=2, keep_main_subject=True)
    assert Options.from_dict(options.to_dict()) == options
    assert Options.from_dict(None) == Options()


def test_as_options_accepts_none_dict_and_options_only():
    """None gives the defaults, a dict is validated, anything else is a TypeError."""
    assert as_options(None) == Options()
    assert as_options({"feather": 1}) == Options(feather=1)
    same = Options(decontaminate=False)
    assert as_options(same) is same
    with pytest.raises(TypeError):
        as_options([("feather", 1)])


def test_from_dict_message_lists_unknown_and_known_names_exactly():
    """The refusal names every unknown key and every known one, sorted and comma-separated
    (the page and `bench --set` show it as it is)."""
    with pytest.raises(ValueError) as caught:
        Options.from_dict({"sharpness": 1, "blur": 2, "feather": 1})
    assert str(caught.value) == (
        "unknown option(s) blur, sharpness; known: decontaminate, feather, "
        "keep_main_subject, refine_edges, remove_specks, shift_edge"
    )


def test_as_options_message_names_the_wrong_type():
    """A value of the wrong type is refused naming its type, not the type of None."""
    with pytest.raises(TypeError) as caught:
        as_options([("feather", 1)])
    assert str(caught.value) == "options must be Options, a dict or None, not list"
