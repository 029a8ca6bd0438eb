"""A small SOQL tokenizer and recursive-descent parser for the subset in the contract."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .date_literals import PATTERN as DATE_LITERAL
from .errors import QueryError, SfError, malformed_query, shaped

_KEYWORD_TEXT = (
    "select from where and or not in like order by asc desc nulls first last limit offset "
    "null true false count includes excludes group having with using"
)
KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_TOKEN_RE = re.compile(
    r"(?P<dateliteral>(?i:" + DATE_LITERAL + r"))|"
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<quote>')
    """,
    re.VERBOSE,
)
ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class Token:
    kind: str  # string number date datetime ident keyword op punct eof
    value: str
    pos: int
    raw: str = ""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise QueryError(f"unexpected token: '{text[pos : pos + 10]}'", pos)
        kind = m.lastgroup or ""
        if kind == "quote":
            value, pos = _read_string(text, pos + 1)
            # raw: the literal as written (LIKE needs it: `\\%` and `\%` differ there).
            tokens.append(Token("string", value, m.start(), text[m.start() + 1 : pos - 1]))
            continue
        pos = m.end()
        if kind == "ws":
            continue
        value = m.group()
        if kind == "ident" and value.lower() in KEYWORDS:
            tokens.append(Token("keyword", value.lower(), m.start(), value))
        else:
            tokens.append(Token(kind, value, m.start()))
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _read_string(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "'":
            return "".join(out), pos + 1
        if ch == "\\":
            nxt = text[pos + 1 : pos + 2]
            if nxt in ESCAPES:
                out.append(ESCAPES[nxt])
            elif nxt in ("%", "_"):
                out.append("\\" + nxt)  # only meaningful in LIKE patterns
            else:
                raise malformed_query(
                    f"Invalid string literal '\\{nxt}'. Illegal character sequence"
                )
            pos += 2
            continue
        out.append(ch)
        pos += 1
    raise malformed_query("unterminated string literal")


@dataclass(frozen=True)
class Literal:
    kind: str  # string number date datetime boolean null
    value: Any
    raw: str = field(default="", compare=False)  # a string literal as written, escapes intact


@dataclass(frozen=True)
class Compare:
    path: str
    op: str  # = != < > <= >= in notin like
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # and or not
    items: tuple[Compare | BoolOp, ...]


Condition = Compare | BoolOp


@dataclass(frozen=True)
class OrderItem:
    path: str
    descending: bool = False
    nulls_last: bool | None = None


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Condition | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    count_only: bool = False


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, value: str | None = None) -> bool:
        return self.tok.kind == kind and (value is None or self.tok.value == value)

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        return self.advance() if self.at(kind, value) else None

    def expect(self, kind: str, value: str | None = None) -> Token:
        if not self.at(kind, value):
            found = self.tok.value or "end of query"
            raise malformed_query(f"unexpected token: '{found}' (expected {value or kind})")
        return self.advance()

    def parse(self) -> Query:
        self.expect("keyword", "select")
        count_only = False
        fields: list[str] = []
        if self.at("keyword", "count"):
            self.advance()
            self.expect("punct", "(")
            self.expect("punct", ")")
            count_only = True
        else:
            fields.append(self.select_item())
            while self.accept("punct", ","):
                fields.append(self.select_item())
        self.expect("keyword", "from")
        # `FROM Order`: the object name is also a keyword
        is_order = self.at("keyword", "order")
        sobject = self.advance().raw if is_order else self.expect("ident").value
        query = Query(fields, sobject, count_only=count_only)
        if self.accept("keyword", "where"):
            query.where = self.condition()
        if self.at("keyword", "group"):
            raise QueryError("GROUP BY is not supported by this sandbox", self.tok.pos)
        if self.accept("keyword", "order"):
            self.expect("keyword", "by")
            query.order_by.append(self.order_item())
            while self.accept("punct", ","):
                query.order_by.append(self.order_item())
        if self.accept("keyword", "limit"):
            query.limit = self.integer()
        if self.accept("keyword", "offset"):
            query.offset = self.integer()
        self.expect("eof")
        _check_fields_limit(query)
        return query

    def select_item(self) -> str:
        """A field path, or ``FIELDS(STANDARD|CUSTOM|ALL)`` kept as written in upper case."""
        if self.at("punct", "("):
            raise QueryError("parent-to-child sub-queries are not supported by this sandbox",
                             self.tok.pos)  # fmt: skip
        name = self.expect("ident")
        if name.value.upper() != "FIELDS" or not self.accept("punct", "("):
            return name.value
        group = self.expect("ident").value.upper()
        if group not in ("STANDARD", "CUSTOM", "ALL"):
            raise QueryError(f"unexpected token: '{group}'", self.tokens[self.i - 1].pos)
        self.expect("punct", ")")
        return f"FIELDS({group})"

    def integer(self) -> int:
        tok = self.expect("number")
        if not tok.value.isdigit():
            raise malformed_query(f"expected a non-negative integer, found '{tok.value}'")
        return int(tok.value)

    def order_item(self) -> OrderItem:
        path = self.expect("ident").value
        desc = False
        if self.accept("keyword", "desc"):
            desc = True
        else:
            self.accept("keyword", "asc")
        nulls_last: bool | None = None
        if self.accept("keyword", "nulls"):
            which = "last" if self.at("keyword", "last") else "first"
            nulls_last = self.expect("keyword", which).value == "last"
        return OrderItem(path, desc, nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        if not (self.at("keyword", "and") or self.at("keyword", "or")):
            return first
        op = self.tok.value
        items = [first]
        while self.at("keyword", "and") or self.at("keyword", "or"):
            if self.tok.value != op:
                raise malformed_query(
                    "unexpected token: '" + self.tok.value.upper() + "' (mixing AND and OR "
                    "requires parentheses)"
                )
            self.advance()
            items.append(self.unary())
        return BoolOp(op, tuple(items))

    def unary(self) -> Condition:
        if self.accept("keyword", "not"):
            return BoolOp("not", (self.unary(),))
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        path = self.expect("ident").value
        if self.accept("keyword", "like"):
            lit = self.literal()
            if lit.kind != "string":
                raise malformed_query("LIKE requires a string literal")
            return Compare(path, "like", (lit,))
        negate = bool(self.accept("keyword", "not"))
        if self.accept("keyword", "in"):
            self.expect("punct", "(")
            values = [self.literal()]
            while self.accept("punct", ","):
                values.append(self.literal())
            self.expect("punct", ")")
            return Compare(path, "notin" if negate else "in", tuple(values))
        if negate:
            raise malformed_query("unexpected token: 'NOT'")
        op = self.expect("op").value
        return Compare(path, "!=" if op == "<>" else op, (self.literal(),))

    def literal(self) -> Literal:
        tok = self.advance()
        if tok.kind == "string":
            return Literal("string", tok.value, tok.raw)
        if tok.kind == "number":
            return Literal("number", float(tok.value))
        if tok.kind in ("date", "datetime", "dateliteral"):
            return Literal(tok.kind, tok.value)
        if tok.kind == "keyword" and tok.value in ("true", "false"):
            return Literal("boolean", tok.value == "true")
        if tok.kind == "keyword" and tok.value == "null":
            return Literal("null", None)
        raise malformed_query(f"unexpected token: '{tok.value or 'end of query'}'")


def _check_fields_limit(query: Query) -> None:
    """FIELDS(ALL) and FIELDS(CUSTOM) need a LIMIT of at most 200 (FIELDS(STANDARD) does not)."""
    unbounded = query.limit is None or query.limit > 200
    if unbounded and any(f in ("FIELDS(ALL)", "FIELDS(CUSTOM)") for f in query.fields):
        raise QueryError(
            "The SOQL FIELDS function must have a LIMIT of at most 200", len(query.sobject)
        )


def parse(text: str) -> Query:
    parser: Parser | None = None
    try:
        parser = Parser(text)
        return parser.parse()
    except QueryError as exc:
        raise SfError(400, "MALFORMED_QUERY", shaped(text, exc.column, exc.reason)) from None
    except SfError as exc:
        if exc.code != "MALFORMED_QUERY":
            raise
        column = (
            len(text)
            if parser is None
            else parser.tokens[min(parser.i, len(parser.tokens) - 1)].pos
        )
        raise SfError(400, "MALFORMED_QUERY", shaped(text, column, exc.message)) from None
