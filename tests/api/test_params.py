"""Parameter and feed-message validation, without a server."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from api.errors import ApiError
from api.params import check_names, feed_limit, int_param, topic_ids_param


def test_int_param_defaults_and_bounds() -> None:
    assert int_param({}, "limit", 10, 1, 100) == 10
    assert int_param({"limit": "100"}, "limit", 10, 1, 100) == 100
    assert int_param({"limit": "007"}, "limit", 10, 1, 100) == 7
    for bad in ("0", "101", "-1", " 5", "5 ", "1e2", "", "99999999999"):
        with pytest.raises(ApiError):
            int_param({"limit": bad}, "limit", 10, 1, 100)


def test_topic_ids_keep_request_order_and_drop_duplicates() -> None:
    assert topic_ids_param({}) is None
    assert topic_ids_param({"topic_ids": "b,a,b,c"}) == ("b", "a", "c")
    assert topic_ids_param({"topic_ids": "x" * 128}) == ("x" * 128,)
    assert len(topic_ids_param({"topic_ids": ",".join(f"t{i % 25}" for i in range(50))}) or ()) == 25
    for bad in (",a", "a,", "a,,b", "x" * 129, ",".join(f"t{i % 25}" for i in range(51))):
        with pytest.raises(ApiError):
            topic_ids_param({"topic_ids": bad})


def test_unknown_and_repeated_names_are_rejected() -> None:
    check_names(MultiDict([("limit", "1")]), {"limit"})
    with pytest.raises(ApiError, match="unknown query parameter 'limt'"):
        check_names(MultiDict([("limt", "1")]), {"limit"})
    with pytest.raises(ApiError, match="more than once"):
        check_names(MultiDict([("limit", "1"), ("limit", "2")]), {"limit"})


def test_feed_limit_messages() -> None:
    assert feed_limit('{"limit": 25}') == 25
    for bad in ('{"limit": 0}', '{"limit": 2.5}', '{"limit": null}', '{"other": 1}', '"limit"', "{"):
        with pytest.raises(ApiError):
            feed_limit(bad)
