"""The reference syntax of cosim.paths: readings, quoting, writing back."""

import pytest

from cosim import SystemStructureError, paths


@pytest.mark.parametrize("reference, expected", [
    ("spindle.speed", [("spindle.speed", ""), ("spindle", "speed")]),
    ("a.b.c", [("a.b.c", ""), ("a.b", "c"), ("a", "b.c")]),
    ("port", [("port", "")]),
    ('"a.b".c', [("a.b", "c")]),
    ("'a.b'.c", [("a.b", "c")]),
    ('"a".b.c', [("a", "b.c")]),
    ('line."DP Controller".y', [("line.DP Controller", "y")]),
    ('"say ""hi""".k', [('say "hi"', "k")]),
    ("'it''s'.k", [("it's", "k")]),
    ('"p.q"', [("p.q", "")]),
    ("a.'b c'[1]", [("a", "'b c'[1]")]),       # a quoted part that a bracket follows: a variable
    (("a.b", "c"), [("a.b", "c")]),
    (["line", "a.b", "c"], [("line.a.b", "c")]),
    (("p.q",), [("p.q", "")]),
])
def test_readings(reference, expected):
    assert paths.readings(reference) == expected


@pytest.mark.parametrize("reference, words", [
    ("", "empty reference"),
    ('"a.b', "not closed"),
    ("'a.b.c", "not closed"),
    ((), "is not a reference"),
    (("a", 1), "is not a reference"),
    (3, "is not a reference"),
])
def test_bad_references(reference, words):
    with pytest.raises(SystemStructureError, match=words):
        paths.readings(reference)


@pytest.mark.parametrize("path, variable, elements, expected", [
    ("spindle", "speed", {"spindle"}, "spindle.speed"),
    ("DP Controller", "y", {"DP Controller"}, "DP Controller.y"),
    ("a.b", "c", {"a.b"}, "a.b.c"),                     # nothing else reads it otherwise
    ("a.b", "c", {"a.b", "a"}, '"a.b".c'),
    ("a", "b.c", {"a.b", "a"}, '"a".b.c'),
    ("'x'", "k", {"'x'"}, "\"'x'\".k"),
    ('say "hi"', "k", {'say "hi"'}, 'say "hi".k'),
    ("p.q", "", {"p.q", "p"}, '"p.q"'),
])
def test_reference_is_quoted_only_where_it_would_read_otherwise(path, variable, elements, expected):
    text = paths.reference(path, variable, exists=elements.__contains__)
    assert text == expected
    readings = [r for r in paths.readings(text) if r[0] in elements]
    assert readings == [(path, variable)]


def test_partition_skips_quoted_names():
    assert paths.partition('"a=b".k=1', "=") == ('"a=b".k', "=", "1")
    assert paths.partition("x.'p=q'.k=s=t", "=") == ("x.'p=q'.k", "=", "s=t")
    assert paths.partition("k=1", "=") == ("k", "=", "1")
    assert paths.partition("k", "=") == ("k", "", "")


@pytest.mark.parametrize("name", ["DP Controller", "rollback-end", "1st", "a.b", "ü"])
def test_names_other_tools_write_are_valid(name):
    assert paths.check_name(name) == name


def test_safe_name_never_refuses_a_file_name():
    assert paths.safe_name("rollback-end") == "rollback-end"
    assert paths.safe_name("bad\nname") == "bad_name"
    assert paths.safe_name("") == "component"
    assert paths.check_name(paths.safe_name("\x00\t")) == "__"
