"""Hypothesis strategies shared by the bad-input property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# anything a user, a widget, NumPy or pandas might hand over
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
    st.integers(-1000, 1000).map(np.int64), st.floats(-1e6, 1e6, width=32).map(np.float32),
    st.floats(-1e6, 1e6).map(np.float64), st.booleans().map(np.bool_),
)
