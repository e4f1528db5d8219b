"""The five-call loop an agent runs on every order reads lean: what it needs once, not twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_types import TextContent

from tests.support.mcp_support import JOB, QUICKSTART, mcp_session

pytestmark = pytest.mark.anyio

#: Result text of get → basket → place → confirm → reconcile on the seeded job, in tokens (÷ 4).
LOOP_TOKENS = 1600


async def test_the_seeded_order_loop_reads_in_under_1600_tokens_of_result_text(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await s.ok("get_repair_job", {"job": JOB})
        basket = await s.ok("recommend_basket", {"job": JOB})
        placed = await s.ok("place_procurement", basket["ready_selection"])
        pid = placed["procurement"]["id"]
        await s.ok("confirm_procurement", {"procurement_id": pid})
        reconciled = await s.ok("reconcile_invoice", {"procurement_id": pid})
        texts = [b.text for r in s.results[-5:] for b in r.content if isinstance(b, TextContent)]
    assert basket["ready_selection"]["offer_selections"] == QUICKSTART["offer_selections"]
    assert reconciled["status"] == "reconciled"
    assert sum(len(t) for t in texts) / 4 <= LOOP_TOKENS
