"""Where configs come from, asked of Hydra: the runner's own conf/ plus the user's config dirs.

The runner's conf/ is the primary source (pkg://runner.conf once installed). A user adds their own
dirs with `-cd/--config-dir <dir>` or `hydra.searchpath=[...]`, in the order Hydra itself uses:
the runner's, then the -cd dir, then the searchpath entries. Every option list, preset and file
location comes from Hydra's config loader for that search path, never from globbing a folder, so a
user's experiment or model preset is checked, suggested and recorded exactly like ours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runner.core.errors import ConfigError
from runner.core.paths import PRIMARY_CONFIG

CONFIG_NAME = "config"
CONFIG_DIR_FLAGS = ("-cd", "--config-dir")
# Search path entries the runner adds or Hydra adds itself; the rest are the user's.
_BUILT_IN_PROVIDERS = ("hydra", "main", "schema")


@dataclass(frozen=True)
class ConfigSearch:
    """The config dirs a run adds to the runner's own, as Hydra search path entries (provider, path)."""

    entries: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_argv(cls, argv: list[str]) -> "ConfigSearch":
        config_dir = flag_value(argv, CONFIG_DIR_FLAGS)
        entries = [] if config_dir is None else [_folder_entry(config_dir, "--config-dir")]
        entries += [("hydra.searchpath in command-line", entry) for entry in searchpath_override(argv)]
        return cls(tuple(entries))

    @classmethod
    def from_config_sources(cls, sources) -> "ConfigSearch":
        """The search path a Hydra job ran with (hydra.runtime.config_sources), for work inside a job."""
        return cls(
            tuple(
                (s["provider"], f"{s['schema']}://{s['path']}")
                for s in sources
                if s["provider"] not in _BUILT_IN_PROVIDERS
            )
        )

    @classmethod
    def from_dirs(cls, dirs, key: str = "config_dir") -> "ConfigSearch":
        """The Python API's config_dir=...: folders, in order of precedence after the runner's own."""
        return cls(tuple(_folder_entry(folder, key) for folder in dirs))


def _folder_entry(given, key: str) -> tuple[str, str]:
    """A user's config folder as a search path entry, as Hydra's -cd adds it; ConfigError if it is none."""
    folder = os.path.abspath(os.path.expanduser(given))
    if not os.path.isdir(folder):
        raise ConfigError(
            key,
            f"'{given}' is not a folder ({folder})",
            "give the folder holding your experiment/, model/, dataset/ ..., e.g. conf",
        )
    return "command-line", f"file://{folder}"


def flag_value(argv: list[str], flags: tuple[str, ...]) -> str | None:
    """The value of a command-line flag given as `-cd dir`, `--config-dir dir` or `--config-dir=dir`."""
    value = None
    for position, arg in enumerate(argv):
        if arg in flags and position + 1 < len(argv):
            value = argv[position + 1]
        elif "=" in arg and arg.split("=", 1)[0] in flags:
            value = arg.split("=", 1)[1]
    return value


def searchpath_override(argv: list[str]) -> list[str]:
    given = [arg for arg in argv if arg.lstrip("+").startswith("hydra.searchpath=")]
    if not given:
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        value = OverridesParser.create().parse_overrides([given[-1]])[0].value()
    except Exception as error:  # Hydra's parser raises its own exception types
        raise ConfigError(
            "hydra.searchpath",
            f"cannot parse {given[-1]!r}: {error}",
            "write it as a list: 'hydra.searchpath=[file://conf]'",
        ) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            "hydra.searchpath",
            f"must be a list of paths, got {value!r}",
            "write it as a list: 'hydra.searchpath=[file://conf]'",
        )
    return value


@dataclass(frozen=True)
class ConfigFile:
    """One config of the search path: `model/tiny` found in a source, and its file on disk."""

    config: str
    provider: str
    file: Path | None


class ConfigSession:
    """Hydra's config loader for one search path, and the questions the runner asks it."""

    def __init__(self, search: ConfigSearch = ConfigSearch()):
        from hydra.core.config_search_path import SearchPathQuery
        from hydra.core.utils import setup_globals

        from runner.config.hydra_private import create_config_search_path
        from runner.config.loader import RecordingLoader
        from runner.config.task_group import register_task_group

        register_task_group()  # the task group lives in Hydra's ConfigStore, built from runner/tasks
        setup_globals()  # Hydra's resolvers (${now:...}) for configs composed outside a Hydra app
        path = create_config_search_path(PRIMARY_CONFIG)
        for provider, entry in search.entries:
            # Hydra puts added dirs after the primary one, before its structured-config source.
            path.prepend(provider, entry, anchor=SearchPathQuery(provider="schema"))
        self.search = search
        self.loader = RecordingLoader(config_search_path=path)
        self._options: dict[tuple[str, str], list[str]] = {}
        self._git: dict[str, dict] = {}  # provenance.git_state per config dir, read once per session

    def options(self, group: str) -> list[str]:
        return self._listed(group, "CONFIG")

    def subgroups(self, group: str = "") -> list[str]:
        return self._listed(group, "GROUP")

    def _listed(self, group: str, kind: str) -> list[str]:
        """Hydra's loader.get_group_options deep-copies its whole repository (the ConfigStore with
        Hydra's own schemas) on every call, ~50 ms; the repository itself lists the same options, as
        the primary config sets no hydra.searchpath. Asked once per group and kind per session."""
        from hydra.core.object_type import ObjectType

        key = (group, kind)
        if key not in self._options:
            self._options[key] = self.loader.repository.get_group_options(group, getattr(ObjectType, kind))
        return self._options[key]

    def all_groups(self, parent: str = "") -> list[str]:
        """Every config group with options, nested ones as `a/b`, Hydra's own left out (`run --help`)."""
        found = []
        for child in self.subgroups(parent):
            name = f"{parent}/{child}" if parent else child
            if name == "hydra":
                continue
            if self.options(name):
                found.append(name)
            found += self.all_groups(name)
        return found

    def git_state(self, folder: Path) -> dict:
        """provenance.git_state of a config dir, read once per session (a sweep's jobs share it)."""
        from runner.config.provenance import git_state

        key = str(folder)
        if key not in self._git:
            self._git[key] = git_state(folder)
        return self._git[key]

    def is_group(self, name: str) -> bool:
        return any(source.is_group(name) for source in self.loader.get_sources())

    def compose(self, overrides: list[str]):
        """Hydra's composition of the run config with these overrides (its `hydra` node included)."""
        from hydra.types import RunMode

        return self.loader.load_configuration(CONFIG_NAME, list(overrides), RunMode.RUN, from_shell=False)

    def locate(self, config: str) -> ConfigFile | None:
        """The source that provides `config` (first in the search path wins, as in Hydra) and its file."""
        for source in self.loader.get_sources():
            if source.is_config(config):
                return ConfigFile(config, source.provider, file_of(source, config))
        return None

    def used_configs(self, overrides: list[str]) -> list[tuple[ConfigFile, str]]:
        """Every config file a composition with these overrides reads, in merge order, with the package
        (the config key) it lands in; Hydra's own configs are left out."""
        from hydra.types import RunMode

        defaults = self.loader.defaults_by_overrides.get(tuple(overrides))  # what composing read: not computed twice
        if defaults is None:
            defaults = self.loader.compute_defaults_list(CONFIG_NAME, list(overrides), RunMode.RUN).defaults
        found, seen = [], set()
        for default in defaults:
            if default.config_path is None or default.config_path in seen:
                continue
            seen.add(default.config_path)
            located = self.locate(default.config_path)
            if located is not None and located.provider != "hydra" and located.file is not None:
                found.append((located, default.package or ""))
        return found

    def sources(self) -> list[tuple[str, str, Path | None]]:
        """(provider, search path entry, folder) of every source but Hydra's own."""
        return [
            (s.provider, s.full_path(), _folder_of(s))
            for s in self.loader.get_sources()
            if s.provider not in ("hydra", "schema") and s.scheme() != "structured"
        ]


def _folder_of(source) -> Path | None:
    if source.scheme() == "file":
        return Path(source.path).resolve()
    if source.scheme() == "pkg":
        from importlib import resources

        try:
            return Path(str(resources.files(source.path))).resolve()
        except (ModuleNotFoundError, TypeError, ValueError):
            return None
    return None


def file_of(source, config: str) -> Path | None:
    """The YAML file on disk a `file://` or `pkg://` source holds for `config`; None for any other source,
    a zipped package, or a config it does not hold."""
    folder = _folder_of(source)
    if folder is None:
        return None
    name = config if config.endswith(".yaml") else f"{config}.yaml"
    path = folder / name
    return path if path.is_file() else None
