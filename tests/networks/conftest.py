"""Fixtures of the network tests: the real peers (see tests/peers.py) and test images."""

from peers import mastodon_mock, mastodon_mock_server, pds  # noqa: F401 (fixtures)
