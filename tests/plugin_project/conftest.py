"""The plugin project's own suite: the plugin is enabled here, the way a user's suite enables it."""

pytest_plugins = ["polyalembic.pytest_plugin"]
