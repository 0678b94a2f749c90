"""Static checks of the provisioning: SQL against the migrations, PromQL against the metrics.

Deliberately small parsers, not general ones: they rely on the conventions of
provisioning/sql.py (every `kuzet.` table aliased, its columns qualified with the alias) and
report what they cannot vouch for instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from collector.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "storage" / "migrations"
PROVISIONING = ROOT / "provisioning"
MODES = ("plain", "timescale")

Schema = dict[str, frozenset[str]]

_CONSTRAINTS = {"UNIQUE", "PRIMARY", "CONSTRAINT", "CHECK", "FOREIGN", "EXCLUDE"}
_CREATE_TABLE = re.compile(
    r"CREATE TABLE (?:IF NOT EXISTS )?kuzet\.(\w+)\s*\((.*?)\n\);", re.DOTALL | re.IGNORECASE
)
_CREATE_VIEW = re.compile(
    r"CREATE (?:MATERIALIZED )?VIEW (?:IF NOT EXISTS )?kuzet\.(\w+)"
    r".*?\bAS\s+SELECT\s+(.*?)\s+FROM\b",
    re.DOTALL | re.IGNORECASE,
)
_ADD_COLUMN = re.compile(
    r"ALTER TABLE (?:IF EXISTS )?kuzet\.(\w+)\s+ADD COLUMN (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE
)


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_migrations(files: Iterable[Path]) -> Schema:
    """Tables and views of schema `kuzet` with their columns, from CREATE/ALTER statements."""
    columns: dict[str, set[str]] = {}
    for path in files:
        sql = _without_comments(path.read_text(encoding="utf-8"))
        for table, body in _CREATE_TABLE.findall(sql):
            names = {item.split()[0].lower() for item in split_top_level(body)}
            columns[table] = {n for n in names if n.upper() not in _CONSTRAINTS}
        for view, select_list in _CREATE_VIEW.findall(sql):
            columns[view] = {
                re.split(r"\s+AS\s+", item, flags=re.IGNORECASE)[-1].strip().lower()
                for item in split_top_level(select_list)
            }
        for table, column in _ADD_COLUMN.findall(sql):
            columns.setdefault(table, set()).add(column.lower())
    return {table: frozenset(cols) for table, cols in columns.items()}


def schema_for(mode: str, directory: Path = MIGRATIONS) -> Schema:
    """The schema one storage mode builds: shared migrations plus that mode's variants."""
    other = ({*MODES} - {mode}).pop()
    files = sorted(p for p in directory.glob("*.sql") if not p.name.endswith(f".{other}.sql"))
    return parse_migrations(files)


def shared_schema(directory: Path = MIGRATIONS) -> Schema:
    """What dashboards may rely on: the tables and columns present in both modes."""
    plain, timescale = (schema_for(mode, directory) for mode in MODES)
    return {t: plain[t] & timescale[t] for t in plain.keys() & timescale.keys()}


# SQL words that can follow a table reference where an alias would stand.
_SQL_WORDS = {
    "where", "join", "left", "right", "inner", "outer", "full", "cross", "on", "group",
    "order", "limit", "union", "using", "having", "window", "natural", "lateral", "offset",
}  # fmt: skip
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_QUOTED_IDENT = re.compile(r'"(?:[^"]|"")*"')
_TABLE_REF = re.compile(r"\bkuzet\.(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_ANY_BINDING = re.compile(r"\b(?:FROM|JOIN)\s+(\w+(?:\.\w+)?)\s+(?:AS\s+)?(\w+)", re.IGNORECASE)
_QUALIFIED = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")
_SIMPLE_SELECT = re.compile(
    r"\bSELECT\s+(?:DISTINCT\s+)?(?P<cols>[^()]*?)\s+FROM\s+kuzet\.(?P<table>\w+)"
    r"(?:\s+(?:AS\s+)?(?P<alias>\w+))?\s*(?=WHERE|ORDER|GROUP|LIMIT|\)|$)",
    re.IGNORECASE,
)
# Grafana's $__timeGroup becomes time_bucket() on a datasource with the TimescaleDB option.
_TIMESCALE_ONLY = re.compile(r"time_bucket\s*\(|\$__timeGroup", re.IGNORECASE)


def _bare(sql: str) -> str:
    return _QUOTED_IDENT.sub('"q"', _SQL_STRING.sub("''", _without_comments(sql)))


def check_sql(sql: str, schema: Schema) -> list[str]:
    """Problems of one query against the schema; an empty list means it passed."""
    problems = []
    if _TIMESCALE_ONLY.search(sql):
        problems.append("uses time_bucket/$__timeGroup: not available in plain mode")
    text = _bare(sql)
    aliases: dict[str, str] = {}
    for table, alias in _TABLE_REF.findall(text):
        if table not in schema:
            problems.append(f"unknown table kuzet.{table}")
            continue
        if not alias or alias.lower() in _SQL_WORDS:
            problems.append(f"kuzet.{table} has no alias: its columns cannot be checked")
            continue
        if aliases.setdefault(alias, table) != table:
            problems.append(f"alias {alias} names two tables")
    for source, alias in _ANY_BINDING.findall(text):
        if alias in aliases and source.lower() != f"kuzet.{aliases[alias]}":
            problems.append(f"alias {alias} names kuzet.{aliases[alias]} and {source}")
    for alias, column in _QUALIFIED.findall(text):
        table = aliases.get(alias)
        if table is not None and column.lower() not in schema[table]:
            problems.append(f"unknown column {alias}.{column} (kuzet.{table})")
    for match in _SIMPLE_SELECT.finditer(text):
        table = match["table"]
        for item in split_top_level(match["cols"]):
            name = re.split(r"\s+AS\s+", item, flags=re.IGNORECASE)[0].strip()
            if re.fullmatch(r"[A-Za-z_]\w*", name) and name.lower() not in schema.get(table, ()):
                problems.append(f"unknown column {name} (kuzet.{table})")
    return problems


_PROM_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_PROM_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_PROM_MATCHERS = re.compile(r"\{[^{}]*\}")
_PROM_RANGE = re.compile(r"\[[^\[\]]*\]")
_PROM_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_PROM_TOKEN = re.compile(r"\d[\w.]*|[A-Za-z_:][\w:]*")
_PROM_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*(?:,\s*\w+\s*)?\)\s*$", re.DOTALL)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression (or a Grafana `label_values(...)` query) selects."""
    if match := _LABEL_VALUES.match(expr):
        expr = match[1]
    text = _PROM_VARIABLE.sub(" 0 ", _PROM_STRING.sub('""', expr))
    text = _PROM_GROUPING.sub(" ", _PROM_RANGE.sub(" ", _PROM_MATCHERS.sub(" ", text)))
    names: set[str] = set()
    for token in _PROM_TOKEN.finditer(text):
        word = token[0]
        if word[0].isdigit() or word.lower() in _PROM_KEYWORDS:
            continue
        if text[token.end() :].lstrip().startswith("("):
            continue  # a function call
        names.add(word)
    return names


_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def declared_metric_names() -> frozenset[str]:
    """Every series name collector.metrics.Metrics exposes, children or not."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in _SAMPLE_SUFFIXES[family.type])
    return frozenset(names)


def datasource_refs(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value stored under a "datasource" key, anywhere in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield f"{path}.{key}", value
            yield from datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from datasource_refs(value, f"{path}[{i}]")


def dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(where, datasource uid, query text) of every panel target, variable and annotation."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            text = target.get("rawSql", target.get("expr"))
            yield f"panel {panel['title']!r}", target["datasource"]["uid"], text
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["datasource"]["uid"], variable["query"]
    for annotation in dashboard["annotations"]["list"]:
        target = annotation["target"]
        yield (
            f"annotation {annotation['name']!r}",
            annotation["datasource"]["uid"],
            target["rawSql"],
        )
