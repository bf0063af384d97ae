import pytest

from apps.core.statemachine import StateMachine, TransitionError

TABLE = {("a", "go"): "b", ("b", "go"): "c", ("b", "back"): "a"}


def test_next_state_follows_the_table_and_names_what_is_allowed():
    m = StateMachine("toy", TABLE, terminal=frozenset({"c"}))
    assert m.next_state("a", "go") == "b"
    assert m.events_from("b") == ["go", "back"]
    with pytest.raises(TransitionError, match=r"state 'a' cannot take 'back'; allowed: go"):
        m.next_state("a", "back")
    with pytest.raises(TransitionError, match="nothing \\(terminal\\)"):
        m.next_state("c", "go")


def test_a_terminal_state_with_an_outgoing_edge_is_refused_at_definition():
    with pytest.raises(ValueError, match="terminal states with outgoing edges"):
        StateMachine("bad", TABLE, terminal=frozenset({"b"}))
