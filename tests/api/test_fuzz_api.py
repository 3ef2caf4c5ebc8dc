"""Schemathesis against the OpenAPI schema, with every check it has: no 500, responses and
status codes as documented, schema-valid requests accepted and invalid ones refused, the
Allow header on 405, auth not ignored. DELETE included: the tokens a case revokes are made
again before the next case.

Bounded examples per operation, run as every role, so validation paths and guarded
paths are both walked."""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from store.tokens import create_token, list_tokens
from tests.api.conftest import World
from vahti.shell import now_utc

ANSWER_WITHIN = 120  # seconds
EXAMPLES = int(os.environ.get("VAHTI_FUZZ_EXAMPLES", "25"))
# What a schema cannot say: a cursor is valid only if this API gave it out; an address or
# network, a file on the server and a time range are checked by their meaning (999.1.1.1
# has the right characters, a path may name no file, `from` may follow `to`). A 422 for one
# of these is the right answer to a request the schema alone would allow.
SEMANTIC = re.compile(
    r"not a cursor this API gave out|not an address or network|every path must be a file"
    r"|--from before --to|from must be before"
)


def _restore_tokens(world: World) -> None:
    """Tokens a DELETE case revoked are made again (new secrets), so later cases still run
    as their role."""
    active = {t.name for t in list_tokens(world.store.con) if t.revoked_at is None}
    for role in list(world.tokens):
        if f"{role}-token" not in active:
            world.store.con.execute("DELETE FROM tokens WHERE name = ?", [f"{role}-token"])
            _, world.tokens[role] = create_token(world.store.con, f"{role}-token", role, now_utc())
            world.app.state.tokens.invalidate()


def _real(failure: BaseException, answer: str) -> list[str]:
    """The failures in a schemathesis failure group, less a 422 for a semantic reason."""
    parts = getattr(failure, "exceptions", [failure])
    semantic = SEMANTIC.search(answer) is not None
    return [
        f"{type(part).__name__}: {str(part)[:300]} <- {answer[:300]}"
        for part in parts
        if not (type(part).__name__ == "RejectedPositiveData" and semantic)
    ]


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_every_check_holds_for_every_operation(world: World, role: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    failures: list[tuple[str, str, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # schemathesis waits 10 s for an answer; a retry of the whole quarantine took
            # longer once on a 2-core machine running four test workers.
            response = case.call(headers=world.as_role(role), timeout=ANSWER_WITHIN)
            try:
                case.validate_response(response, headers=world.as_role(role))
            except BaseException as failure:  # schemathesis' failures come as a group
                found = _real(failure, response.text)
                failures.extend((case.method, case.path, text) for text in found)
            finally:
                _restore_tokens(world)

        run()
    assert failures == [], "\n".join(f"{m} {p}: {text}" for m, p, text in failures)
