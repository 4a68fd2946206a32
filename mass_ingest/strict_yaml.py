"""Reading a lab's YAML (a profile, an input file) so that nothing in it is lost or ambiguous.

PyYAML keeps the last of two equal keys without a word (an ``exclude:`` written twice drops the
first block's rules), and its composer recurses once per nesting level (a 20,000-deep list is a
``RecursionError``). Here the text is first checked for size, then its event stream (which PyYAML
parses without recursion) for depth and alias count, then the composed node tree for duplicate
keys; only then is it turned into Python values. Every refusal names the line and the fix.
The node tree also gives each key's line, so later validation errors can say where they are.
"""

from __future__ import annotations

import yaml

MAX_BYTES = 1_000_000     # a profile is a page of settings; a megabyte is a generated or wrong file
MAX_DEPTH = 32            # the profile model nests 6 levels; deeper is a mistake or an attack
MAX_ALIASES = 100         # aliases can expand exponentially ("billion laughs"); a profile needs few

Lines = dict[tuple, int]  # key path (as pydantic locations: names and list indexes) -> line (1-based)


class TextScalarLoader(yaml.SafeLoader):
    """Safe YAML that leaves unquoted scalars as the text written.

    YAML 1.1 would read the subject ids ``no`` as false, ``102_1`` as 1021 and ``1e5`` as a
    float. Here only null and merge keys are resolved; the profile model converts the fields
    that really are numbers, booleans or dates.
    """


TextScalarLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class StrictYamlError(ValueError):
    """The text is refused before it becomes values; ``line`` is 1-based (0: the file as a whole)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _check_events(text: str) -> None:
    depth = aliases = 0
    for event in yaml.parse(text, Loader=TextScalarLoader):  # noqa: S506 - a SafeLoader subclass
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise StrictYamlError(event.start_mark.line + 1, f"nests deeper than {MAX_DEPTH} levels; a lab's "
                                      "file needs at most a few: remove the extra brackets or indentation")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise StrictYamlError(event.start_mark.line + 1, f"uses more than {MAX_ALIASES} aliases (*name); "
                                      "write the values out instead")


def _key_text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id} key>"


def _walk(root: yaml.Node) -> Lines:
    """Refuse duplicate keys in any mapping; return the line of every key path."""
    lines: Lines = {(): root.start_mark.line + 1}
    stack: list[tuple[tuple, yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    continue  # a merge key (<<: *base) may be overridden by design; its keys are not duplicates
                name = _key_text(key)
                line = key.start_mark.line + 1
                if name in first:
                    where = ".".join(str(p) for p in path) or "the top level"
                    lines_said = f"line {line}" if first[name] == line else f"lines {first[name]} and {line}"
                    raise StrictYamlError(line, f"key '{name}' appears twice in {where} ({lines_said}); YAML would "
                                          "keep only the second and silently drop the first: merge the two into one")
                first[name] = line
                lines[(*path, name)] = line
                stack.append(((*path, name), value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                stack.append(((*path, index), item))
    return lines


def load_strict(text: str) -> tuple[object, Lines]:
    """The values of one YAML document and the line of each key path.

    Raises :class:`StrictYamlError` (too large, too deep, too many aliases, a duplicate key) or
    ``yaml.YAMLError`` (not YAML).
    """
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise StrictYamlError(0, f"is {size:,} bytes, more than the {MAX_BYTES:,} a lab's file may have; "
                              "a lab's file is a page of settings: remove what was generated into it")
    _check_events(text)
    loader = TextScalarLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _walk(node)
        return loader.construct_document(node), lines
    finally:
        loader.dispose()


def line_of(lines: Lines, loc: tuple) -> int | None:
    """The line of the longest prefix of ``loc`` that has one (pydantic adds names such as a union's
    member type that the file does not have)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
