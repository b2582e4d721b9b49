"""Property tests (hypothesis) for the tuning entry points: a search space, a pruner, the class server's subnet and
a storage URL either work or give one line naming what is wrong; a password is never shown."""

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlopt_kit.classroom.server import check_subnet
from dlopt_kit.classroom.study import StorageError, connect, redact
from dlopt_kit.hyperparameter_tuning.search import KINDS, PRUNERS, SearchSpace, make_pruner

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                   st.text(max_size=6), st.lists(st.integers(-3, 3), max_size=3))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(field=st.sampled_from(["lr", "weight_decay", "epochs", "batch_size", "dropout", "nonsense"]),
       kind=st.one_of(st.sampled_from(KINDS), st.text(max_size=5)), rest=st.lists(VALUES, max_size=3))
def test_any_search_dimension_builds_or_names_the_field(field, kind, rest):
    try:
        space = SearchSpace({field: (kind, *rest)})
    except ValueError as exc:
        message = str(exc)
        assert field in message and "\n" not in message
    else:
        param = space.params[field]
        assert param.kind in KINDS and (param.kind == "choice" or param.low < param.high)


@PROPERTY
@given(name=st.one_of(st.sampled_from(PRUNERS), st.text(max_size=8)), epochs=VALUES)
def test_any_pruner_setting_builds_or_names_the_setting(name, epochs):
    try:
        make_pruner(name, epochs)
    except ValueError as exc:
        assert str(exc).startswith(("pruner=", "epochs=")) and "\n" not in str(exc)


@PROPERTY
@given(text=st.one_of(st.text(max_size=30), st.ip_addresses().map(str),
                      st.tuples(st.ip_addresses(), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}")))
def test_only_a_private_or_loopback_network_reaches_the_access_rules(text):
    try:
        network = check_subnet(text)
    except ValueError as exc:
        assert str(exc).startswith("subnet=") and "\n" not in str(exc)
    else:
        parsed = ipaddress.ip_network(network)
        assert (parsed.is_private or parsed.is_loopback) and str(parsed) == network and " " not in network


@PROPERTY
@given(password=st.text(alphabet="QWZqwz@#%!", min_size=6, max_size=12))
def test_a_password_is_never_shown_whatever_it_holds(password):
    url = f"postgresql+psycopg://student:{password}@127.0.0.1:1/dlopt"  # port 1: refused at once
    assert password not in redact(url)
    try:
        connect(url)
    except StorageError as exc:
        assert password not in str(exc) and "\n" not in str(exc)
