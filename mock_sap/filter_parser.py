"""OData V2 `$filter`: tokenizer, recursive-descent parser and a compiler to fast row predicates."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mock_sap.edm import EntityType, Property, ValueError_, coerce_literal, parse_literal
from mock_sap.errors import ODataError, bad_request

Row = tuple[object, ...]
Getter = Callable[[Row], object]


@dataclass(frozen=True)
class Literal:
    kind: str
    value: object


@dataclass(frozen=True)
class Member:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Literal | Member | Call | Not | Binary

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC = ("add", "sub", "mul", "div", "mod")

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<typed>(?:datetimeoffset|datetime|time|guid|binary|X)'[^']*')
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMlLdDfF]?)
    | (?P<paren>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    )
    """,
    re.VERBOSE,
)


def filter_error(message: str) -> ODataError:
    return bad_request(f"Invalid filter expression: {message}", code="/IWBEP/CM_MGW_RT/022")


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise filter_error(f"unexpected character at position {position + 1}: '{text[position:]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise filter_error("unexpected end of expression")
        self.position += 1
        return token

    def accept_word(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1] in words:
            self.position += 1
            return token[1]
        return None

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise filter_error(f"expected '{value}' but found '{text}'")

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise filter_error(f"unexpected token '{self.peek()[1]}'")  # type: ignore[index]
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.accept_word("or"):
            node = Binary("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.accept_word("and"):
            node = Binary("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.accept_word("not"):
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        op = self.accept_word(*COMPARISONS)
        if op:
            node = Binary(op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while op := self.accept_word("add", "sub"):
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.primary()
        while op := self.accept_word("mul", "div", "mod"):
            node = Binary(op, node, self.primary())
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "paren" and text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if kind in ("typed", "string", "number"):
            try:
                literal_kind, value = parse_literal(text)
            except ValueError_ as exc:
                raise filter_error(str(exc)) from exc
            return Literal(literal_kind, value)
        if kind == "word":
            if text in ("true", "false"):
                return Literal("Edm.Boolean", text == "true")
            if text == "null":
                return Literal("Null", None)
            nxt = self.peek()
            if nxt and nxt == ("paren", "("):
                self.take()
                args: list[Node] = []
                if self.peek() != ("paren", ")"):
                    args.append(self.or_expr())
                    while self.peek() == ("paren", ","):
                        self.take()
                        args.append(self.or_expr())
                self.expect(")")
                return Call(text, tuple(args))
            return Member(text)
        raise filter_error(f"unexpected token '{text}'")


def parse_filter(text: str) -> Node:
    """Parse a `$filter` value into an AST; raises ODataError (400) on syntax errors."""
    if not text.strip():
        raise filter_error("empty expression")
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# Compilation


_STRING_FUNCTIONS: dict[str, Callable[..., object]] = {
    "substringof": lambda needle, hay: needle is not None and hay is not None and needle in hay,
    "startswith": lambda hay, prefix: hay is not None and prefix is not None and hay.startswith(prefix),
    "endswith": lambda hay, suffix: hay is not None and suffix is not None and hay.endswith(suffix),
    "tolower": lambda s: s.lower() if s is not None else None,
    "toupper": lambda s: s.upper() if s is not None else None,
    "trim": lambda s: s.strip() if s is not None else None,
    "length": lambda s: len(s) if s is not None else None,
    "indexof": lambda hay, needle: hay.find(needle) if hay is not None else None,
    "concat": lambda a, b: (a or "") + (b or ""),
    "substring": lambda s, start, length=None: (
        (s[start:] if length is None else s[start : start + length]) if s is not None else None
    ),
    "replace": lambda s, old, new: s.replace(old, new) if s is not None else None,
}
_ARITY = {
    "substringof": (2,),
    "startswith": (2,),
    "endswith": (2,),
    "tolower": (1,),
    "toupper": (1,),
    "trim": (1,),
    "length": (1,),
    "indexof": (2,),
    "concat": (2,),
    "substring": (2, 3),
    "replace": (3,),
}

_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _constant(value: object) -> Getter:
    return lambda row: value


@dataclass(frozen=True)
class Compiled:
    getter: Getter
    prop: Property | None  # the property whose internal representation this expression yields
    is_bool: bool = False


class FilterCompiler:
    """Compile an AST against one entity type; rejects unknown and `sap:filterable="false"` properties."""

    def __init__(self, entity_type: EntityType) -> None:
        self.entity_type = entity_type

    def predicate(self, node: Node) -> Callable[[Row], bool]:
        compiled = self.compile(node)
        getter = compiled.getter
        return lambda row: getter(row) is True

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Member):
            return self._member(node)
        if isinstance(node, Literal):
            return Compiled(_constant(node.value), None, node.kind == "Edm.Boolean")
        if isinstance(node, Not):
            inner = self.compile(node.operand).getter
            return Compiled(lambda row: not inner(row), None, True)
        if isinstance(node, Call):
            return self._call(node)
        if node.op in ("and", "or"):
            left, right = self.compile(node.left).getter, self.compile(node.right).getter
            if node.op == "and":
                return Compiled(lambda row: left(row) is True and right(row) is True, None, True)
            return Compiled(lambda row: left(row) is True or right(row) is True, None, True)
        if node.op in COMPARISONS:
            return self._comparison(node)
        return self._arithmetic(node)

    def _member(self, node: Member) -> Compiled:
        if "/" in node.name:
            raise filter_error(f"navigation paths are not supported in $filter ('{node.name}')")
        prop = self.entity_type.by_name.get(node.name)
        if prop is None:
            raise ODataError(
                400,
                "/IWBEP/CM_MGW_RT/004",
                f"Property '{node.name}' not found in type '{self.entity_type.name}'",
            )
        if not prop.filterable:
            raise ODataError(
                400,
                "/IWBEP/CM_MGW_RT/021",
                f"Filtering on property '{node.name}' is not supported",
            )
        position = self.entity_type.index[prop.name]
        return Compiled(operator.itemgetter(position), prop, prop.type == "Edm.Boolean")

    def _operand(self, node: Node, partner: Node) -> Compiled:
        """Compile `node`; a literal takes the internal form of the property on the other side."""
        if isinstance(node, Literal):
            partner_prop = self._prop_of(partner)
            if partner_prop is not None:
                try:
                    value = coerce_literal(partner_prop, node.kind, node.value)
                except ValueError_ as exc:
                    raise filter_error(str(exc)) from exc
                return Compiled(_constant(value), partner_prop)
        return self.compile(node)

    def _prop_of(self, node: Node) -> Property | None:
        if isinstance(node, Member):
            return self._member(node).prop
        if isinstance(node, Call) and node.name in ("tolower", "toupper", "trim") and node.args:
            return self._prop_of(node.args[0])
        return None

    def _comparison(self, node: Binary) -> Compiled:
        left = self._operand(node.left, node.right)
        right = self._operand(node.right, node.left)
        lget, rget = left.getter, right.getter
        # Fast paths for the common "Property op constant" shape (the benchmarked filters).
        if isinstance(node.left, Member) and not isinstance(node.right, (Member, Call, Binary, Not)):
            position = self.entity_type.index[left.prop.name]  # type: ignore[union-attr]
            constant = rget(())
            if node.op == "eq":
                return Compiled(lambda row: row[position] == constant, None, True)
            if node.op == "ne":
                return Compiled(lambda row: row[position] != constant, None, True)
            if constant is None:
                return Compiled(lambda row: False, None, True)
            compare = _ORDERING[node.op]
            return Compiled(lambda row: (value := row[position]) is not None and compare(value, constant), None, True)
        if node.op == "eq":
            return Compiled(lambda row: lget(row) == rget(row), None, True)
        if node.op == "ne":
            return Compiled(lambda row: lget(row) != rget(row), None, True)
        compare = _ORDERING[node.op]

        def ordered(row: Row) -> bool:
            a, b = lget(row), rget(row)
            if a is None or b is None:
                return False
            try:
                return bool(compare(a, b))
            except TypeError:
                return False

        return Compiled(ordered, None, True)

    def _arithmetic(self, node: Binary) -> Compiled:
        left = self._operand(node.left, node.right)
        right = self._operand(node.right, node.left)
        ops: dict[str, Callable[[object, object], object]] = {
            "add": operator.add,
            "sub": operator.sub,
            "mul": operator.mul,
            "div": operator.truediv,
            "mod": operator.mod,
        }
        fn, lget, rget = ops[node.op], left.getter, right.getter

        def evaluate(row: Row) -> object:
            a, b = lget(row), rget(row)
            if a is None or b is None:
                return None
            try:
                return fn(a, b)
            except (TypeError, ZeroDivisionError, ArithmeticError):
                return None

        return Compiled(evaluate, left.prop or right.prop)

    def _call(self, node: Call) -> Compiled:
        name = node.name
        if name not in _STRING_FUNCTIONS:
            raise filter_error(f"function '{name}' is not supported")
        if len(node.args) not in _ARITY[name]:
            raise filter_error(f"function '{name}' takes {_ARITY[name][0]} arguments")
        for arg in node.args:
            prop = self._prop_of(arg)
            if prop is not None and prop.type != "Edm.String" and name not in ("substring",):
                raise filter_error(f"function '{name}' needs string arguments, '{prop.name}' is {prop.type}")
        getters = [self.compile(arg).getter for arg in node.args]
        fn = _STRING_FUNCTIONS[name]
        is_bool = name in ("substringof", "startswith", "endswith")
        if len(getters) == 1:
            (g0,) = getters
            return Compiled(lambda row: fn(g0(row)), self._prop_of(node.args[0]), is_bool)
        if len(getters) == 2:
            g0, g1 = getters
            return Compiled(lambda row: fn(g0(row), g1(row)), None, is_bool)
        return Compiled(lambda row: fn(*(g(row) for g in getters)), None, is_bool)


def equality_terms(node: Node) -> list[tuple[str, Literal]]:
    """Top-level `Prop eq literal` conjuncts, which the query engine may answer from an index."""
    if isinstance(node, Binary) and node.op == "and":
        return equality_terms(node.left) + equality_terms(node.right)
    if isinstance(node, Binary) and node.op == "eq":
        if isinstance(node.left, Member) and isinstance(node.right, Literal):
            return [(node.left.name, node.right)]
        if isinstance(node.right, Member) and isinstance(node.left, Literal):
            return [(node.right.name, node.left)]
    return []


def compile_filter(text: str, entity_type: EntityType) -> tuple[Callable[[Row], bool], list[tuple[str, object]]]:
    """The row predicate plus index-usable (property, internal value) equalities."""
    node = parse_filter(text)
    compiler = FilterCompiler(entity_type)
    predicate = compiler.predicate(node)
    terms: list[tuple[str, object]] = []
    for name, literal in equality_terms(node):
        prop = entity_type.by_name[name]
        terms.append((name, coerce_literal(prop, literal.kind, literal.value)))
    return predicate, terms
