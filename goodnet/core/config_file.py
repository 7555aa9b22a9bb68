"""Reading a workflow config file as data, without Snakemake: what ``goodnet check`` does
to a config from elsewhere before anyone runs Snakemake on it.

To Snakemake a config file is code: it reads the file as JSON, else as YAML through YTE,
which evaluates the Python in it when its top level says ``__use_yte__: true``, and with
PyYAML's FullLoader, which builds Python objects from ``!!python/...`` tags. That happens
before goodnet sees the config, so goodnet cannot stop it in the workflow. Here the file
is read the way Snakemake reads it (JSON first) but as plain data: one line refuses YTE,
every YAML tag, a file over budgets.CONFIG_FILE_BYTES; ``config_values`` then refuses
alias bombs, NaN and the rest, and ``goodnet.config.check`` the schema's rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from goodnet.core import budgets
from goodnet.core.errors import GoodnetError

YTE_KEY = "__use_yte__"


def read(path: str | Path) -> dict:
    """The config in the file ``path``, read as data only; one line for what would make
    Snakemake run code from it, or for a file that is not a config."""
    path = Path(path)
    text = _text(path)
    try:
        config = json.loads(text)  # Snakemake's first try, so a JSON file is read as JSON
    except ValueError:
        _check_no_tags(text, path)
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise GoodnetError(path, f"is not valid YAML ({_first_line(e)})") from None
    if not isinstance(config, dict):
        raise GoodnetError(path, "is not a mapping of config keys")
    if YTE_KEY in config:
        raise GoodnetError(
            path,
            f"sets {YTE_KEY}, which makes Snakemake evaluate the Python in it (YTE "
            "templating) before goodnet sees it; refused: a config must be data",
        )
    return config


def _text(path: Path) -> str:
    """The file's text: it exists, is at most the config budget, and is UTF-8."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise GoodnetError(path, "is not a file")
        most = budgets.CONFIG_FILE_BYTES
        if size > most:
            raise GoodnetError(
                path,
                f"takes {budgets.size(size)}, more than the {budgets.size(most)} a config may "
                "take (the shipped ones: 2 to 4 KB)",
            )
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise GoodnetError(path, "file not found") from None
    except UnicodeDecodeError:
        raise GoodnetError(path, "is not a UTF-8 text file") from None
    except OSError as e:
        raise GoodnetError(path, f"cannot be read ({e.strerror or type(e).__name__})") from None


def _check_no_tags(text: str, path: Path) -> None:
    """Refuse any explicit YAML tag: ``!!python/name:os.system`` and friends build Python
    objects under the loader Snakemake uses, and no goodnet key needs one."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            tag = getattr(event, "tag", None)
            if tag is not None:  # written in the file: YAML resolves the others itself
                shown = tag.replace("tag:yaml.org,2002:", "!!")[: budgets.QUOTE_CHARS]
                raise GoodnetError(
                    path,
                    f"line {event.start_mark.line + 1}: the YAML tag {shown!r} can make "
                    "Snakemake build Python objects; a config uses no tags",
                )
    except yaml.YAMLError as e:
        raise GoodnetError(path, f"is not valid YAML ({_first_line(e)})") from None


def _first_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


class _DuplicateKey(Exception):
    pass


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with a key given twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_no_duplicate_keys(path) -> None:
    """Refuse a config file that gives one key twice in a mapping (YAML keeps the last:
    two triggers of one name would silently become one)."""
    try:
        yaml.load(Path(path).read_text(), Loader=_StrictLoader)
    except _DuplicateKey as e:
        key, line = e.args
        raise GoodnetError(
            path,
            f"line {line}: '{key}' is given twice in one mapping (two triggers, "
            "BadNets or keys of the same name); YAML would keep only the last",
        ) from None
    except (OSError, yaml.YAMLError):
        pass  # Snakemake has read it already, and says what is wrong with it
