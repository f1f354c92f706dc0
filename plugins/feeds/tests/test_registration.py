"""The distribution is installed and registered through the ``scrm`` entry point group."""

from importlib.metadata import entry_points

from scrm.core.plugins import get_plugin_manager, plugin_info


def test_entry_point_is_registered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="scrm")}
    assert names.get("feeds") == "scrm_feeds"


def test_plugin_manager_loads_it_with_its_distribution() -> None:
    info = {p["name"]: p for p in plugin_info(get_plugin_manager())}
    assert info["feeds"]["distribution"] == "scrm-feeds"
    assert info["feeds"]["version"] == "0.1.0"
