"""Property-based fuzzing of the thirteen tools' arguments through the real in-memory MCP client.

Each case is one ``tools/call`` whose arguments are drawn from the tool's published
inputSchema (seeded-world values where a field names one: the job ``CCC-2026-04817``, the
offers ``0f…01``–``0f…0c``, PR-1, the suppliers, random UUIDs otherwise) and, in two cases
out of three, mutated the ways agents get it wrong: wrong types, missing and unknown keys,
nulls, 100k-character strings, odd unicode (RTL, emoji, NUL, noncharacters, line
separators), 200-level nesting, lists and strings over their limits, objects sent as JSON
text, the wire's key names (``external_id``, ``job_identity``, ``identity``). For every case:

1. ``call_tool`` never raises: no protocol error, no hang;
2. no traceback text anywhere in the result;
3. structuredContent validates (Draft 2020-12) against the tool's published outputSchema,
   ``is_extension`` tells the truth, and an ``isError`` result carries ``{"is_extension",
   "error": {code, message, fix, retryable, ...}}`` that is never ``internal_error``, whose
   ``example_arguments`` fit the tool's inputSchema; arguments that fit the inputSchema are
   never refused as ``invalid_arguments`` (bar reconcile_invoice's one-selector rule, which a
   JSON schema cannot say); an error result is at most a few times the size of the
   arguments it echoes (a 100k-character argument does not come back as megabytes); and the
   result contract every tool test holds results to (``check_result``: banner, the text
   repeating the structured content as one JSON line, code and fix in the summary) holds.
   "Fits the inputSchema" is judged as SPEC §3's strict types mean it: an integer is a JSON
   integer (not 1.0) and a UUID is ASCII hex;
4. a refused call to a tool that writes changes no state: the seeded job (``snapshot()``),
   the job the call names and the procurement it names read the same before and after.

Sizes: the default is the CI run (derandomized, a few hundred cases, well under a minute);
``RAILS_FUZZ_EXAMPLES=10000`` selects the large run (that many cases spread over the
thirteen tools, plus the cross-tool run); ``bench/fuzz_tools.py`` runs it and prints figures.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker, validators
from mcp_types import CallToolResult, TextContent

from rails_mcp.tools import TOOLS, compact_schema
from tests.support.mcp_support import (
    AMI,
    EXTENSION_TOOLS,
    JOB_EXTERNAL,
    JOB_ID,
    MISSING,
    PR1,
    READ_TOOLS,
    S1,
    S2,
    S3,
    SITE,
    TOOL_NAMES,
    Session,
    check_result,
    isolate_environment,
    mcp_session,
    offer,
    part,
)

# --- sizes and hypothesis profiles ----------------------------------------------------------

#: Set to a total case count (e.g. 10000) to select the large run.
FUZZ_EXAMPLES_ENV = "RAILS_FUZZ_EXAMPLES"
#: Set (with the large run) to explore with a fresh random seed instead of the fixed one.
FUZZ_RANDOM_ENV = "RAILS_FUZZ_RANDOM"
CI_EXAMPLES_PER_TOOL = 40
CI_CROSS_TOOL_EXAMPLES = 100
#: A call that takes longer than this is a hang, reported like a protocol error.
CALL_TIMEOUT_SECONDS = 60.0
#: An error result (text plus structuredContent, as JSON) may echo the arguments this many times over,
ECHO_FACTOR = 4
#: plus this many characters of its own words.
ECHO_ALLOWANCE = 20_000


def per_tool(total: int) -> int:
    return max(1, math.ceil(total / len(TOOL_NAMES)))


#: Read once, at import: the tests' autouse fixture clears every RAILS_* variable before they run.
LARGE_TOTAL = int(os.environ.get(FUZZ_EXAMPLES_ENV, "").strip() or 0) or None
LARGE_RANDOM = bool(os.environ.get(FUZZ_RANDOM_ENV))


_SUPPRESSED = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]
settings.register_profile(
    "rails-fuzz-ci",
    max_examples=CI_EXAMPLES_PER_TOOL,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "rails-fuzz-large",
    max_examples=per_tool(LARGE_TOTAL or 10_000),
    derandomize=not LARGE_RANDOM,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)


def active_profile() -> str:
    return "rails-fuzz-large" if LARGE_TOTAL else "rails-fuzz-ci"


def cross_tool_examples() -> int:
    return per_tool(LARGE_TOTAL) if LARGE_TOTAL else CI_CROSS_TOOL_EXAMPLES


# --- what the tools publish ------------------------------------------------------------------

SPECS = {spec.name: spec for spec in TOOLS}


def published_input_schema(name: str) -> dict[str, Any]:
    """The inputSchema exactly as ``build_server`` publishes it (checked against tools/list)."""
    return compact_schema(SPECS[name].input_model)


UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FORMATS = FormatChecker()
#: RFC 9562 text: ASCII hex only (jsonschema's own check lets Python's ``int`` accept "１").
FORMATS.checks("uuid")(lambda value: not isinstance(value, str) or bool(UUID_TEXT.fullmatch(value)))
#: SPEC §3: argument types are strict, so an "integer" is a JSON integer, never 1.0 (which
#: plain JSON Schema would accept and the tools refuse, with an enriched error).
StrictIntegers = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


@cache
def input_validator(name: str) -> Draft202012Validator:
    return StrictIntegers(published_input_schema(name), format_checker=FORMATS)


# --- the seeded world, and values the fuzzer learns while it runs -----------------------------

WORK_PROVIDERS = [AMI, "0a000000-0000-4000-8000-000000000021", "0a000000-0000-4000-8000-000000000022"]
SEEDED_OFFERS = [offer(n) for n in range(1, 13)]
SEEDED_PARTS = [part(n) for n in range(1, 7)]
SCRATCH_JOBS = ["FUZZ-SCRATCH-1", "FUZZ-SCRATCH-2 \u202eRTL\u202c", "FUZZ-🚗-3"]

#: Replaced by the harness with an id it saw in an earlier success (else a seeded one).
LEARNED = {
    "procurement": "@learned-procurement@",
    "invoice": "@learned-invoice@",
    "job": "@learned-job@",
}
FALLBACK = {"procurement": PR1, "invoice": MISSING, "job": JOB_ID}

SEEDED_DESCRIPTIONS = [
    "Front bumper cover",
    "Front bumper reinforcement",
    "Headlamp assembly LH",
    "Headlamp assembly RH",
    "Grille assembly",
    "Radiator support",
]
#: The only descriptions and part refs written to the seeded job, so it stays small.
DESCRIPTION_POOL = [
    *SEEDED_DESCRIPTIONS,
    "Bonnet — OEM ✓",
    "مصد أمامي",
    "Fender \u202eLH\u202c",
    "Emoji part 🚗💥",
    "NUL\x00part",
    "e\u0301clairage",
    "line\u2028separator",
]
PART_REFS = ["EST-LINE-1", "EST-LINE-2", "ест-3", "\U0010fffd-4"]

#: Odd but surrogate-free text: RTL, emoji, NUL, noncharacters, separators, injections.
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    f"{JOB_EXTERNAL}\x00",
    f" {JOB_EXTERNAL} ",
    JOB_EXTERNAL.lower(),
    "\u202eRTL override\u202c",
    "مرحبا بالعالم",
    "שלום",
    "🚗💥🔧",
    "👩\u200d🔧",
    "e\u0301\u0301\u0301",
    "\ufeffBOM",
    "\uffff\ufffe",
    "\U0010ffff",
    "\U000e0001tag",
    "\u2028\u2029\x85",
    "\t\r\n\x0b\x0c",
    "\x7f\x1b[31m",
    "'\"\\",
    '{"external": "CCC-2026-04817"}',
    "[1, 2, 3]",
    "{not json",
    "null",
    "%s%n%x",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "Robert'); DROP TABLE jobs;--",
    "0d000000-0000-4000-8000-000000000001",
    "0d000000000040008000000000000001",
    "{0d000000-0000-4000-8000-000000000001}",
    "urn:uuid:0d000000-0000-4000-8000-000000000001",
    "0D000000-0000-4000-8000-000000000001",
    "0d000000-0000-4000-8000-00000000000\uff11",
]
odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(
        alphabet=st.characters(
            codec="utf-8", categories=["Cc", "Cf", "Mn", "Co", "Cn", "Zl", "Zp", "Zs", "So", "Lo"]
        ),
        max_size=24,
    ),
)

#: Wrong or extra argument names agents really send, plus names no tool has.
UNKNOWN_KEYS = [
    "external_id",
    "job_identity",
    "identity",
    "job_id",
    "external",
    "jobIdentity",
    "procurement",
    "procurementId",
    "offers",
    "selections",
    "invoice",
    "dryRun",
    "site_id",
    "vins",
    "identifier",
    "part_list",
    "",
    "__proto__",
    "constructor",
    "JOB",
    "job ",
    "arguments",
    "\x00",
    "🚗",
    "k" * 1000,
]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    odd_text,
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

# --- valid arguments, derived from the published inputSchema ---------------------------------

UUID_HINTS: dict[str, list[str]] = {
    "procurement_id": [PR1, MISSING, LEARNED["procurement"]],
    "invoice_id": [LEARNED["invoice"], MISSING],
    "sellable_id": SEEDED_OFFERS,
    "supplier_business_id": [S1, S2, S3],
    "job_part_ids": SEEDED_PARTS,
    "repairer_site_id": [SITE],
    "work_provider_id": WORK_PROVIDERS,
}
STRING_HINTS: dict[str, list[str]] = {
    "vin": ["JTDBR32E730012345", "1HGCM82633A004352", "JTDBR32E73001234X", "SHORT"],
    "vrm": ["MJL472", "ABC123", "ZZ"],
    "claim_number": ["AMI-CLM-771204", "CLM-1"],
    "job_number": ["J-4817", "J-1"],
    "chassis_number": ["JTDBR32E730012345"],
    "plate_number": ["MJL472"],
    "plate_state": ["NZ"],
    "part_number": ["52119-02958", "81150-02B20"],
}
#: Valid lists are kept short (state stays small); the limit itself is a separate case.
VALID_LIST_SPAN = 4


def mostly(likely: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``likely`` three times in four: seeded values reach the success paths often enough."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 0 else likely)


def _uuid_hints(path: tuple[str, ...]) -> list[str]:
    key = path[-1] if path else ""
    if key == "id" and "identity" in path:
        return SEEDED_PARTS
    if key == "id":
        return [JOB_ID, LEARNED["job"]]
    return UUID_HINTS.get(key, [])


def _string_strategy(
    schema: Mapping[str, Any], path: tuple[str, ...], bounded: bool
) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if schema.get("format") == "uuid":
        hints = _uuid_hints(path)
        randoms = st.uuids().map(str)
        return mostly(st.sampled_from(hints), randoms) if hints else randoms
    lo, hi = int(schema.get("minLength", 0)), int(schema.get("maxLength", 10_000))
    key = path[-1] if path else ""
    free = st.text(min_size=lo, max_size=min(hi, lo + 40))
    odd = odd_text.filter(lambda s: lo <= len(s) <= hi)
    if key == "external" and "identity" in path:
        return st.sampled_from(PART_REFS) if bounded else st.one_of(st.sampled_from(PART_REFS), free, odd)
    if key == "external":
        return mostly(st.just(JOB_EXTERNAL), st.one_of(st.sampled_from(SCRATCH_JOBS), free, odd))
    if key == "description":
        pool = st.sampled_from(DESCRIPTION_POOL)
        return pool if bounded else st.one_of(pool, free, odd)
    hints = [h for h in STRING_HINTS.get(key, []) if lo <= len(h) <= hi]
    boundary = st.just("Z" * hi) if hi < 10_000 else st.nothing()
    return st.one_of(st.sampled_from(hints) if hints else st.nothing(), free, odd, boundary)


def from_schema(
    schema: Mapping[str, Any], path: tuple[str, ...] = (), bounded: bool = False
) -> st.SearchStrategy[Any]:
    """Values that fit ``schema`` (the subset the tools publish), seeded-world values first."""
    if "anyOf" in schema:
        return st.one_of([from_schema(v, path, bounded) for v in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" and schema.get("maxProperties") == 1:  # exactly one of the keys
        one = cast("dict[str, Any]", schema["properties"])
        return st.one_of(
            [st.fixed_dictionaries({k: from_schema(v, (*path, k), bounded)}) for k, v in one.items()]
        )
    if kind == "object":
        props = cast("dict[str, Any]", schema.get("properties", {}))
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, (*path, k), bounded) for k, v in props.items() if k in required},
            optional={k: from_schema(v, (*path, k), bounded) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        lo, hi = int(schema.get("minItems", 0)), int(schema.get("maxItems", 50))
        items = from_schema(schema["items"], path, bounded)
        at_limit = items.map(lambda item: [item] * hi)
        return st.one_of(st.lists(items, min_size=lo, max_size=min(hi, lo + VALID_LIST_SPAN)), at_limit)
    if kind == "string":
        return _string_strategy(schema, path, bounded)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"the fuzzer does not know the schema construct at {path}: {schema}")


def is_seeded_job(job: object) -> bool:
    return job in ({"external": JOB_EXTERNAL}, {"id": JOB_ID})


#: S1's offers for the parts still estimated in the seeded world: placeable, then confirmable.
S1_ESTIMATED_OFFERS = [offer(n) for n in (0x03, 0x05, 0x07, 0x09, 0x0A)]
SEEDED_JOBS = st.sampled_from([{"external": JOB_EXTERNAL}, {"id": JOB_ID}])
#: Calls that can succeed in the seeded world, mixed into the schema-derived ones: without them
#: hypothesis, which never repeats a case, seldom reaches the success paths of the write tools.
KNOWN_GOOD: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "place_procurement": st.fixed_dictionaries(
        {
            "job": SEEDED_JOBS,
            "offer_selections": st.lists(
                st.sampled_from(S1_ESTIMATED_OFFERS), min_size=1, max_size=5, unique=True
            ).map(lambda ids: [{"sellable_id": i} for i in ids]),
        },
        optional={"dry_run": mostly(st.just(True), st.just(False))},
    ),
    "confirm_procurement": st.fixed_dictionaries(
        {"procurement_id": st.sampled_from([PR1, LEARNED["procurement"]])}
    ),
    "track_procurement": st.fixed_dictionaries(
        {"procurement_id": st.sampled_from([PR1, LEARNED["procurement"]])},
        optional={"view": st.sampled_from(["repairer", "supplier"])},
    ),
    "reconcile_invoice": st.one_of(
        st.fixed_dictionaries({"procurement_id": st.sampled_from([PR1, LEARNED["procurement"]])}),
        st.fixed_dictionaries({"job": SEEDED_JOBS}),
        st.fixed_dictionaries({"invoice_id": st.just(LEARNED["invoice"])}),
    ),
}


@cache
def valid_arguments(name: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = published_input_schema(name)
    if name in KNOWN_GOOD:
        return st.one_of(from_schema(schema), KNOWN_GOOD[name])
    if name != "identify_parts":
        return from_schema(schema)
    # Parts written to the seeded job come from a small pool, so its snapshot stays small.
    props = schema["properties"]
    job = from_schema(props["job"], ("job",))
    return job.flatmap(
        lambda j: from_schema(props["parts"], ("parts",), bounded=is_seeded_job(j)).map(
            lambda parts: {"job": j, "parts": parts}
        )
    )


# --- mutations ----------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
Json = Any
#: The in-memory client cannot serialize deeper requests (pydantic's limit is ~254 levels).
MAX_DEPTH = 240


def get_at(tree: Json, path: Path_) -> Json:
    for step in path:
        tree = tree[step]
    return tree


def replace_at(tree: Json, path: Path_, value: Json) -> Json:
    """A copy of ``tree`` with the node at ``path`` replaced (containers on the path copied)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, list):
        items = list(cast("list[Any]", tree))
        items[cast("int", head)] = replace_at(items[cast("int", head)], rest, value)
        return items
    node = dict(cast("dict[str, Any]", tree))
    node[cast("str", head)] = replace_at(node[cast("str", head)], rest, value)
    return node


def paths_of(tree: Json, limit: int = 300) -> list[Path_]:
    """Paths to the nodes under the root (breadth first; long lists sampled at their ends)."""
    found: list[Path_] = []
    queue: list[tuple[Path_, Json]] = [((), tree)]
    while queue and len(found) < limit:
        at, node = queue.pop(0)
        if len(at) > 12:
            continue
        if isinstance(node, dict):
            children = [(k, v) for k, v in cast("dict[str, Any]", node).items()]
        elif isinstance(node, list):
            items = cast("list[Any]", node)
            idx = sorted({*range(min(3, len(items))), len(items) - 1} - {-1})
            children = [(i, items[i]) for i in idx]
        else:
            continue
        for key, child in children:
            found.append((*at, key))
            queue.append(((*at, key), child))
    return found


def depth_of(tree: Json) -> int:
    depth, level = 0, [tree]
    while level:
        nxt: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                nxt.extend(cast("dict[str, Any]", node).values())
            elif isinstance(node, list):
                nxt.extend(cast("list[Any]", node))
        if not nxt:
            return depth
        depth += 1
        level = nxt
    return depth


def schema_at(schema: Mapping[str, Any], path: Path_) -> list[Mapping[str, Any]]:
    """The published schema node(s) for ``path`` (every anyOf branch that has it)."""
    nodes: list[Mapping[str, Any]] = [schema]
    for step in path:
        nxt: list[Mapping[str, Any]] = []
        for node in nodes:
            for branch in node.get("anyOf", [node]):
                if isinstance(step, int) and branch.get("type") == "array":
                    nxt.append(branch["items"])
                elif isinstance(step, str) and step in branch.get("properties", {}):
                    nxt.append(branch["properties"][step])
        nodes = nxt
    return [b for n in nodes for b in n.get("anyOf", [n])]


Draw = Callable[[st.SearchStrategy[Any]], Any]
Mutation = Callable[[Draw, str, dict[str, Any]], Json]


def _pick(draw: Draw, args: dict[str, Any], want: Callable[[Json], bool] = lambda _: True) -> Path_ | None:
    paths = [p for p in paths_of(args) if want(get_at(args, p))]
    return draw(st.sampled_from(paths)) if paths else None


def _huge(draw: Draw) -> str:
    unit = draw(st.sampled_from(["x", "é", "🚗", "\u202e", "\x00", "ab\u2028", JOB_EXTERNAL, "\uffff"]))
    return (unit * (100_000 // len(unit) + 1))[:100_000]


def _nested(draw: Draw) -> Json:
    depth = draw(st.sampled_from([50, 200, 230]))
    node: Json = draw(st.sampled_from(["x", 1, None, {"external": JOB_EXTERNAL}]))
    as_dict = draw(st.booleans())
    for _ in range(depth):
        node = {"job": node} if as_dict else [node]
    return node


def m_wrong_type(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args)
    return args if at is None else replace_at(args, at, draw(json_value))


def m_null(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args)
    return args if at is None else replace_at(args, at, None)


def m_drop(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, {"": args}, lambda v: isinstance(v, dict) and bool(v))
    if at is None:
        return args
    parent = dict(get_at({"": args}, at))
    parent.pop(draw(st.sampled_from(sorted(parent))))
    return replace_at({"": args}, at, parent)[""]


def m_unknown_key(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, {"": args}, lambda v: isinstance(v, dict))
    assert at is not None
    parent = dict(get_at({"": args}, at))
    parent[draw(st.one_of(st.sampled_from(UNKNOWN_KEYS), st.text(max_size=12)))] = draw(json_value)
    return replace_at({"": args}, at, parent)[""]


def m_huge_string(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    if draw(st.booleans()):
        return {**args, _huge(draw): 1}  # a 100k-character key
    at = _pick(draw, args)
    return {**args, "job": _huge(draw)} if at is None else replace_at(args, at, _huge(draw))


def m_unicode(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args, lambda v: isinstance(v, str)) or _pick(draw, args)
    return args if at is None else replace_at(args, at, draw(odd_text))


def m_deep(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args) or ("zzz",)
    deeper = replace_at(args, at, _nested(draw)) if at != ("zzz",) else {**args, "zzz": _nested(draw)}
    return deeper if depth_of(deeper) <= MAX_DEPTH else args


def m_over_limit(draw: Draw, name: str, args: dict[str, Any]) -> Json:
    """One past a published limit (or one short of a minimum), derived from the schema."""
    schema = published_input_schema(name)
    spots: list[tuple[Path_, Mapping[str, Any]]] = [
        (p, node)
        for p in paths_of(args)
        for node in schema_at(schema, p)
        if node.get("type") in {"array", "string"}
    ]
    if not spots:
        return args
    at, node = draw(st.sampled_from(spots))
    value = get_at(args, at)
    if node["type"] == "array":
        over = int(node.get("maxItems", 100)) + 1
        filler = list(cast("list[Any]", value)) if isinstance(value, list) and value else [None]
        too_many = (filler * (over // len(filler) + 1))[:over]
        return replace_at(args, at, draw(st.sampled_from([too_many, []])))
    over = int(node.get("maxLength", 100_000)) + 1
    base = value if isinstance(value, str) and value else "Z"
    too_long = (base * (over // len(base) + 1))[:over]
    return replace_at(args, at, draw(st.sampled_from([too_long, ""])))


def m_json_string(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args, lambda v: isinstance(v, dict | list))
    if at is None:
        return args
    text = json.dumps(get_at(args, at), ensure_ascii=draw(st.booleans()))
    text = draw(st.sampled_from([text, f"  {text}\n", text[:-1], text + "x"]))
    return replace_at(args, at, text)


def m_wire_keys(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    """The wire's names and shapes where the tools take their own."""
    job = args.get("job", {"external": JOB_EXTERNAL})
    inner = next(iter(job.values()), JOB_EXTERNAL) if isinstance(job, dict) and job else JOB_EXTERNAL
    rest = {k: v for k, v in args.items() if k != "job"}
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return {**rest, draw(st.sampled_from(["job_identity", "identity", "jobIdentity"])): job}
    if choice == 1:
        return {**rest, draw(st.sampled_from(["external_id", "job_id", "external", "job_ref"])): inner}
    if choice == 2:
        return {**rest, "job": {draw(st.sampled_from(["external_id", "externalId", "uuid"])): inner}}
    if choice == 3:
        return {**rest, "job": {draw(st.sampled_from(["identity", "job_identity"])): job}}
    if choice == 4:
        return {**rest, "job": inner}
    if choice == 5:
        return {**rest, "job": {"external": JOB_EXTERNAL, "id": JOB_ID}}
    if choice == 6 and "procurement_id" in args:
        key = draw(st.sampled_from(["procurement", "procurementId", "procurement_identity"]))
        return {**rest, key: draw(st.sampled_from([{"id": args["procurement_id"]}, args["procurement_id"]]))}
    if choice == 7 and "offer_selections" in args:
        return {
            **rest,
            draw(st.sampled_from(["offers", "selections", "offerSelections"])): args["offer_selections"],
        }
    if choice == 8 and isinstance(args.get("parts"), list) and args["parts"]:
        first = dict(args["parts"][0]) if isinstance(args["parts"][0], dict) else {}
        first["identity"] = {"external_id": draw(st.sampled_from(PART_REFS))}
        return {**args, "parts": [first, *args["parts"][1:]]}
    return {**args, "identity": job, "job_identity": job}


def m_number(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args, lambda v: isinstance(v, int | bool)) or _pick(draw, args)
    weird = draw(
        st.sampled_from(
            [0, -1, 1001, 2**31, 2**63, 2**64 + 1, 10**30, 1.0, 1.5, -0.0, 1e308, True, "1", "one"]
        )
    )
    return args if at is None else replace_at(args, at, weird)


def m_empty(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args)
    return args if at is None else replace_at(args, at, draw(st.sampled_from(["", " ", [], {}, [{}]])))


def m_duplicate(draw: Draw, _: str, args: dict[str, Any]) -> Json:
    at = _pick(draw, args, lambda v: isinstance(v, list) and bool(v))
    if at is None:
        return args
    items = list(get_at(args, at))
    return replace_at(args, at, [*items, items[0]])


def m_replace_all(draw: Draw, _: str, __: dict[str, Any]) -> Json:
    return draw(
        st.dictionaries(
            st.one_of(st.sampled_from(UNKNOWN_KEYS), st.text(max_size=10)), json_value, max_size=5
        )
    )


MUTATIONS: list[Mutation] = [
    m_wrong_type,
    m_null,
    m_drop,
    m_unknown_key,
    m_huge_string,
    m_unicode,
    m_deep,
    m_over_limit,
    m_json_string,
    m_wire_keys,
    m_number,
    m_empty,
    m_duplicate,
    m_replace_all,
]


@cache
def cases(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A third valid arguments, two thirds valid arguments with one to three mutations."""

    @st.composite
    def build(draw: Draw) -> dict[str, Any]:
        args: dict[str, Any] = draw(valid_arguments(name))
        if draw(st.integers(0, 2)) == 0:
            return args
        for _ in range(draw(st.integers(1, 3))):
            mutation = draw(st.sampled_from(MUTATIONS))
            mutated = mutation(draw, name, args)
            args = mutated if isinstance(mutated, dict) else {"job": mutated}
        return args

    return build()


# --- the harness: one server, every case checked, figures kept ---------------------------------

TRACEBACK_MARKERS = ("Traceback", 'File "', '.py", line')
#: Read by snapshots of a job a write call names (besides the seeded job's ``snapshot()``).
JOB_READS = ("get_repair_job", "list_parts", "list_procurements", "recommend_basket")


@dataclass
class FuzzStats:
    cases: Counter[str] = field(default_factory=Counter[str])
    successes: Counter[str] = field(default_factory=Counter[str])
    protocol_errors: int = 0
    traceback_hits: int = 0
    error_results: int = 0
    internal_errors: int = 0
    schema_violations: int = 0
    contract_violations: int = 0
    bad_examples: int = 0
    oversized_errors: int = 0
    snapshot_failures: int = 0
    wrongly_refused: int = 0
    state_changes: int = 0
    state_checks: int = 0
    codes: Counter[str] = field(default_factory=Counter[str])
    largest_result_chars: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list[str])

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    @property
    def violations(self) -> int:
        return (
            self.protocol_errors
            + self.traceback_hits
            + self.internal_errors
            + self.schema_violations
            + self.contract_violations
            + self.snapshot_failures
            + self.bad_examples
            + self.oversized_errors
            + self.wrongly_refused
            + self.state_changes
        )


def _strings(node: Json) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in cast("dict[str, Any]", node).items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in cast("list[Any]", node):
            yield from _strings(v)


def _selector_rule_broken(args: Mapping[str, Any]) -> bool:
    """reconcile_invoice: exactly one of procurement_id and job, or invoice_id alone."""
    selectors = (args.get("procurement_id") is not None) + (args.get("job") is not None)
    if args.get("invoice_id") is None:
        return selectors != 1
    return selectors != 0


def _well_formed_identity(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict) or len(cast("dict[str, Any]", value)) != 1:
        return None
    ((key, ref),) = cast("dict[str, Any]", value).items()
    if key == "external" and isinstance(ref, str) and 1 <= len(ref) <= 200:
        return {"external": ref}
    if key == "id" and isinstance(ref, str):
        try:
            return {"id": str(UUID(ref))}
        except ValueError:
            return None
    return None


class FuzzHarness:
    """Runs cases against one server and checks the four properties on each."""

    def __init__(self, portal: BlockingPortal, session: Session, stats: FuzzStats, *, strict: bool) -> None:
        self.portal = portal
        self.session = session
        self.stats = stats
        self.strict = strict
        self.output = {
            name: Draft202012Validator(tool.output_schema or {}) for name, tool in session.tools.items()
        }
        self.learned: dict[str, list[str]] = {kind: [] for kind in LEARNED}
        self._turn = 0
        self._states: dict[str, Any] = {}
        for name, tool in session.tools.items():
            assert tool.input_schema == published_input_schema(name), f"{name}: inputSchema drifted"

    # -- calling --------------------------------------------------------------------------

    def call(self, name: str, args: dict[str, Any]) -> CallToolResult:
        async def bounded() -> CallToolResult:
            with anyio.fail_after(CALL_TIMEOUT_SECONDS):
                return await self.session.client.call_tool(name, args)

        return self.portal.call(bounded)

    def resolve(self, node: Json) -> Json:
        """Swap the learned-id placeholders for ids seen in earlier successes."""
        if isinstance(node, str):
            for kind, marker in LEARNED.items():
                if node == marker:
                    known = self.learned[kind]
                    self._turn += 1
                    return known[self._turn % len(known)] if known else FALLBACK[kind]
            return node
        if isinstance(node, dict):
            return {k: self.resolve(v) for k, v in cast("dict[str, Any]", node).items()}
        if isinstance(node, list):
            return [self.resolve(v) for v in cast("list[Any]", node)]
        return node

    def learn(self, structured: Mapping[str, Any]) -> None:
        def keep(kind: str, value: object) -> None:
            if isinstance(value, str) and value not in self.learned[kind]:
                self.learned[kind] = [*self.learned[kind], value][-20:]

        for key in ("procurement",):
            if isinstance(structured.get(key), dict):
                keep("procurement", structured[key].get("id"))
        for p in structured.get("procurements") or []:
            if isinstance(p, dict):
                keep("procurement", cast("dict[str, Any]", p).get("id"))
        for inv in structured.get("invoices") or []:
            if isinstance(inv, dict):
                keep("invoice", cast("dict[str, Any]", inv).get("id"))
        if isinstance(structured.get("job"), dict):
            keep("job", structured["job"].get("id"))

    # -- state (property 4) ---------------------------------------------------------------

    def _read(self, name: str, args: dict[str, Any]) -> Json:
        result = self.call(name, args)
        return {"is_error": bool(result.is_error), "structured": result.structured_content}

    def _state_of(self, key: str) -> Json:
        kind, _, ref = key.partition(":")
        if kind == "seeded":
            state = self.portal.call(self.session.snapshot)
            self.session.results.clear()  # Session keeps every result; thousands add up
            return state
        if kind == "job":
            job = json.loads(ref)
            return {name: self._read(name, {"job": job}) for name in JOB_READS}
        return {
            "repairer": self._read("track_procurement", {"procurement_id": ref}),
            "supplier": self._read("track_procurement", {"procurement_id": ref, "view": "supplier"}),
            "invoices": self._read("reconcile_invoice", {"procurement_id": ref}),
        }

    @staticmethod
    def watched(args: Mapping[str, Any]) -> list[str]:
        """The seeded job, plus the job and procurement a call names (well-formed ones)."""
        keys = ["seeded"]
        for name in ("job", "identity", "job_identity"):
            job = _well_formed_identity(args.get(name))
            if job is not None and not is_seeded_job(job):
                keys.append("job:" + json.dumps(job, sort_keys=True))
        ref = args.get("procurement_id")
        if isinstance(ref, str):
            with suppress(ValueError):
                keys.append(f"procurement:{UUID(ref)}")
        return list(dict.fromkeys(keys))

    def states(self, keys: list[str], *, fresh: bool) -> dict[str, Json]:
        for key in keys:
            if fresh or key not in self._states:
                self._states[key] = self._state_of(key)
        return {key: self._states[key] for key in keys}

    def _guarded_states(self, keys: list[str], *, fresh: bool, problems: list[str]) -> dict[str, Json]:
        """``states``, with a failing read (``snapshot()`` checks every result) counted, not raised."""
        try:
            return self.states(keys, fresh=fresh)
        except Exception as exc:
            self._states.clear()
            self.stats.snapshot_failures += 1
            problems.append(f"reading the state failed: {type(exc).__name__}: {str(exc)[:300]}")
            return {}

    # -- one case -------------------------------------------------------------------------

    def case(self, name: str, raw: dict[str, Any]) -> None:
        started = time.perf_counter()
        args = cast("dict[str, Any]", self.resolve(raw))
        self.stats.cases[name] += 1
        problems: list[str] = []
        writes = name not in READ_TOOLS
        watched = self.watched(args) if writes else []
        before = self._guarded_states(watched, fresh=False, problems=problems)
        try:
            result: CallToolResult | None = self.call(name, args)
        except Exception as exc:  # property 1: anything raised is a protocol error
            result = None
            self.stats.protocol_errors += 1
            problems.append(f"protocol error: {type(exc).__name__}: {str(exc)[:300]}")
        if result is not None:
            problems += self.check(name, args, result)
            if not result.is_error:
                self.stats.successes[name] += 1
            if not result.is_error and result.structured_content is not None:
                self.learn(result.structured_content)
                if writes:
                    self._states.clear()  # a successful write changes state legitimately
        if writes and (result is None or result.is_error):
            self.stats.state_checks += 1
            after = self._guarded_states(watched, fresh=True, problems=problems)
            changed = [key for key in watched if after.get(key) != before.get(key)]
            if changed:
                self.stats.state_changes += 1
                problems.append(f"refused call changed state: {changed}")
        self.stats.seconds += time.perf_counter() - started
        if problems:
            shown = json.dumps(args, ensure_ascii=True, default=str)
            report = f"{name} {shown[:400]}: " + "; ".join(problems)
            if len(self.stats.failures) < 50:
                self.stats.failures.append(report)
            if self.strict:
                raise AssertionError(report)

    def check(self, name: str, args: dict[str, Any], result: CallToolResult) -> list[str]:
        problems: list[str] = []
        sent = json.dumps(args, ensure_ascii=False, default=str)
        structured = result.structured_content
        strings = [b.text if isinstance(b, TextContent) else b.model_dump_json() for b in result.content]
        strings += list(_strings(structured))
        self.stats.largest_result_chars = max(self.stats.largest_result_chars, sum(map(len, strings)))
        # Property 2 (a marker the arguments themselves carry may be echoed back).
        hits = [m for m in TRACEBACK_MARKERS if m not in sent and any(m in s for s in strings)]
        if hits:
            self.stats.traceback_hits += 1
            problems.append(f"traceback text in the result: {hits}")
        # Property 3.
        schema_problems: list[str] = []
        if not isinstance(structured, dict):
            schema_problems.append("no structuredContent")
        else:
            if structured.get("is_extension") is not (name in EXTENSION_TOOLS):
                schema_problems.append(f"is_extension is {structured.get('is_extension')!r}")
            for err in self.output[name].iter_errors(structured):
                schema_problems.append(f"outputSchema: {err.message[:200]} at {list(err.absolute_path)}")
        if not result.content or not isinstance(result.content[0], TextContent) or not result.content[0].text:
            schema_problems.append("no text content")
        if result.is_error:
            self.stats.error_results += 1
            size = sum(len(b.text) for b in result.content if isinstance(b, TextContent))
            size += len(json.dumps(structured, ensure_ascii=False, default=str))
            if size > ECHO_FACTOR * len(sent) + ECHO_ALLOWANCE:
                self.stats.oversized_errors += 1
                problems.append(f"an error result of {size} characters for {len(sent)} of arguments")
            error = structured.get("error") if isinstance(structured, dict) else None
            if not isinstance(error, dict):
                schema_problems.append("an error result without an error object")
            else:
                problems += self._check_error(name, args, cast("dict[str, Any]", error), schema_problems)
        elif isinstance(structured, dict) and "error" in structured:
            schema_problems.append("a success result carries an error object")
        if schema_problems:
            self.stats.schema_violations += 1
            problems += schema_problems
        # The whole SPEC §3 result contract the other tool tests hold every result to (banner,
        # text repeating the structured content as one JSON line, code and fix in the summary).
        try:
            check_result(self.session.tools[name], result)
        except Exception as exc:  # AssertionError, jsonschema's ValidationError, JSONDecodeError
            self.stats.contract_violations += 1
            problems.append(f"check_result: {type(exc).__name__}: {str(exc)[:300]}")
        return problems

    def _check_error(
        self, name: str, args: dict[str, Any], error: dict[str, Any], schema_problems: list[str]
    ) -> list[str]:
        problems: list[str] = []
        code = error.get("code")
        self.stats.codes[str(code)] += 1
        for key, kind in (("code", str), ("message", str), ("fix", str), ("retryable", bool)):
            if not isinstance(error.get(key), kind) or (kind is str and not error.get(key)):
                schema_problems.append(f"error.{key} is missing or not a {kind.__name__}")
        if code == "internal_error":
            self.stats.internal_errors += 1
            problems.append("internal_error: the tool crashed")
        example = error.get("example_arguments")
        if example is not None:
            bad = [e.message[:200] for e in input_validator(name).iter_errors(example)]
            if bad:
                self.stats.bad_examples += 1
                problems.append(f"example_arguments do not fit the inputSchema: {bad[:3]}")
        fits = input_validator(name).is_valid(args)
        exempt = name == "reconcile_invoice" and _selector_rule_broken(args)
        if fits and code == "invalid_arguments" and not exempt:
            self.stats.wrongly_refused += 1
            problems.append(f"arguments that fit the inputSchema were refused: {error.get('message')}")
        return problems


@contextmanager
def fuzz_harness(
    state_dir: Path,
    *,
    strict: bool,
    stats: FuzzStats | None = None,
    mode: str = "legacy",
    tenant: str = "fuzz",
) -> Iterator[FuzzHarness]:
    """One seeded tenant behind one server, driven from synchronous hypothesis tests."""
    with start_blocking_portal("asyncio") as portal:
        serving = portal.wrap_async_context_manager(mcp_session(state_dir, mode=mode, tenant=tenant))
        session = serving.__enter__()
        try:
            yield FuzzHarness(portal, session, stats if stats is not None else FuzzStats(), strict=strict)
        finally:
            # Closed cleanly whatever happened: a failing property propagates as itself, not
            # wrapped in the client task group's ExceptionGroup.
            serving.__exit__(None, None, None)


def _seeded(test: Callable[[], None], name: str, chosen: settings) -> Callable[[], None]:
    """A derandomized run seeded per tool: tools with the same schema still get different cases."""
    return seed(zlib.crc32(name.encode()))(test) if chosen.derandomize else test


def fuzz_tool(harness: FuzzHarness, name: str, profile: str | None = None) -> None:
    """Every property over ``name``'s fuzzed arguments, sized by the profile."""

    chosen = settings.get_profile(profile or active_profile())

    @settings(chosen)
    @given(args=cases(name))
    def one(args: dict[str, Any]) -> None:
        harness.case(name, args)

    _seeded(one, name, chosen)()


def fuzz_across_tools(harness: FuzzHarness, examples: int, profile: str | None = None) -> None:
    """Cases over all thirteen tools interleaved on one server (placements feed confirmations)."""

    chosen = settings(settings.get_profile(profile or active_profile()), max_examples=examples)

    @chosen
    @given(step=st.sampled_from(TOOL_NAMES).flatmap(lambda n: st.tuples(st.just(n), cases(n))))
    def one(step: tuple[str, dict[str, Any]]) -> None:
        harness.case(*step)

    _seeded(one, "cross-tool", chosen)()


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


@pytest.mark.parametrize("tool", TOOL_NAMES)
def test_fuzzed_arguments_keep_every_property(tool: str, tmp_path: Path):
    stats = FuzzStats()
    with fuzz_harness(tmp_path, strict=True, stats=stats) as harness:
        fuzz_tool(harness, tool)
    assert stats.cases[tool] > 0
    assert stats.violations == 0, stats.failures


def test_fuzzed_calls_across_all_tools_on_the_2026_era(tmp_path: Path):
    stats = FuzzStats()
    with fuzz_harness(tmp_path, strict=True, stats=stats, mode="2026-07-28") as harness:
        fuzz_across_tools(harness, cross_tool_examples())
    assert stats.violations == 0, stats.failures


def test_the_fuzzer_derives_only_valid_arguments_before_mutating():
    """The generator itself: unmutated cases fit the published inputSchema (placeholders resolved)."""

    @settings(settings.get_profile("rails-fuzz-ci"), max_examples=15)
    @given(step=st.sampled_from(TOOL_NAMES).flatmap(lambda n: st.tuples(st.just(n), valid_arguments(n))))
    def one(step: tuple[str, dict[str, Any]]) -> None:
        name, args = step
        resolved = json.loads(
            json.dumps(args).replace(LEARNED["procurement"], PR1).replace(LEARNED["invoice"], MISSING)
        )
        resolved = json.loads(json.dumps(resolved).replace(LEARNED["job"], JOB_ID))
        errors = [e.message[:120] for e in input_validator(name).iter_errors(resolved)]
        assert not errors, (name, errors)

    one()


# --- regressions: what this fuzzer found ---------------------------------------------------------


@pytest.mark.anyio
async def test_example_arguments_carry_canonical_uuids_and_no_nulls(tmp_path: Path):
    """The lenient input models accept braced, unhyphenated and urn UUIDs and explicit nulls;
    example_arguments used to echo them, so the replay did not fit the published inputSchema."""
    async with mcp_session(tmp_path) as s:
        braced = "{" + JOB_ID.upper() + "}"
        error = await s.fail("get_repair_job", {"job": {"id": braced}, "verbose": True}, "invalid_arguments")
        assert error["example_arguments"] == {"job": {"id": JOB_ID}}

        nulls = {"procurement_id": PR1, "job": None, "invoice_id": None, "invoice": None}
        error = await s.fail("reconcile_invoice", nulls, "invalid_arguments")
        assert error["example_arguments"] == {"procurement_id": PR1}

        odd_ids = [offer(0x07).replace("-", "").upper(), f"urn:uuid:{offer(0x0A)}"]
        placement = {
            "job": {"external_id": JOB_EXTERNAL},
            "offer_selections": [{"sellable_id": i, "supplier_business_id": None} for i in odd_ids],
        }
        error = await s.fail("place_procurement", placement, "invalid_arguments")
        assert error["example_arguments"] == {
            "job": {"external": JOB_EXTERNAL},
            "offer_selections": [{"sellable_id": offer(0x07)}, {"sellable_id": offer(0x0A)}],
        }
        for name, example in (
            ("get_repair_job", {"job": {"id": JOB_ID}}),
            ("reconcile_invoice", {"procurement_id": PR1}),
            ("place_procurement", error["example_arguments"]),
        ):
            assert input_validator(name).is_valid(example)
        placed = await s.ok("place_procurement", error["example_arguments"])
    assert placed["procurement"]["total"] == "1099.00"


@pytest.mark.anyio
async def test_a_huge_bad_argument_is_not_echoed_back_as_megabytes(tmp_path: Path):
    """A 100k-character bare job came back as a 4.2 MB error (message, fix and text each held
    escaped copies): messages now clip what they echo."""
    huge = "\u202e" * 100_000
    async with mcp_session(tmp_path) as s:
        for args in (
            {"job": huge},
            {"job": {"external_id": huge}},
            {"job": {"external": JOB_EXTERNAL}, huge: 1},
        ):
            result = await s.call("get_repair_job", args)
            assert result.is_error
            assert isinstance(result.structured_content, dict)
            error = result.structured_content["error"]
            assert len(error["message"]) <= 2000
            assert len(error["fix"]) <= 1000
            assert len(error.get("field", "")) <= 200
            size = sum(len(b.text) for b in result.content if isinstance(b, TextContent))
            size += len(json.dumps(result.structured_content, ensure_ascii=False))
            assert size <= ECHO_FACTOR * len(json.dumps(args, ensure_ascii=False)) + ECHO_ALLOWANCE


@pytest.mark.anyio
async def test_the_text_keeps_one_json_line_whatever_the_strings_hold(tmp_path: Path):
    """U+2028/U+2029/U+0085 in stored strings split the JSON line, and a newline in an echoed
    ref split the summary; ``Session`` checks every result below with ``check_result``."""
    ref = {"external": "REF\n{1"}
    async with mcp_session(tmp_path) as s:
        part = {"description": "line\u2028sep\u2029ara\x85tor", "quantity": 1}
        await s.ok("identify_parts", {"job": {"external": JOB_EXTERNAL}, "parts": [part]})
        await s.snapshot()
        await s.ok("open_repair_job", {"job": ref, "claim_number": "a\r\n{b"})
        job = await s.ok("get_repair_job", {"job": ref})
        assert job["job"]["claim_number"] == "a\r\n{b"
        await s.fail("get_repair_job", {"job": {"external": "NO\n{SUCH"}}, "not_found")
        error = await s.fail("list_parts", {"job": ref, "a\n{b": 1}, "invalid_arguments")
        assert "\n" not in error["message"]
        assert "\n" not in error["fix"]
