"""Fuzzing that goes deeper than CI: random requests generated from the published schema
(/api/v1/openapi.json, by schemathesis) sent to every operation, with an admin's token and with a
sales rep's (visibility "team"), through the whole Django stack. Reported per operation: any 5xx,
any answer that does not match its own schema (status, body), and, as figures, how many
schema-valid requests were refused (a 422 for ids that do not exist is expected; one that the
schema could have said is a schema to tighten).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/fuzz_api.py   # 300 each
    python bench/fuzz_api.py --examples 20 --only accounts                             # SQLite, quick

Exits 1 when a 5xx or a mismatch was found. The database is a throwaway one (bench/common.py).
tests/api/test_fuzz_api.py runs the same code with a few examples per operation."""

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Report:
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    # operation -> {problem: an example (the request, curl-like, and the answer)}
    failures: dict = field(default_factory=lambda: defaultdict(dict))
    refused_valid: dict = field(default_factory=lambda: defaultdict(Counter))  # operation -> reason -> n

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        rate = self.requests / self.seconds if self.seconds else 0
        out = [
            f"{self.requests:,} requests in {self.seconds:.0f} s ({rate:.1f}/s); statuses: "
            + ", ".join(f"{s}: {n:,}" for s, n in sorted(self.statuses.items())),
            f"5xx or schema mismatches: {sum(len(f) for f in self.failures.values())} "
            f"in {len(self.failures)} operations",
        ]
        for operation, problems in sorted(self.failures.items()):
            for problem, example in problems.items():
                out.append(f"  FAIL {operation}: {problem}\n       {example}")
        refused = sorted(self.refused_valid.items(), key=lambda kv: -sum(kv[1].values()))
        out.append(f"schema-valid requests refused (422/400), by operation: {len(refused)} operations")
        for operation, reasons in refused[:25]:
            top = "; ".join(f"{n}× {r}" for r, n in reasons.most_common(2))
            out.append(f"  {sum(reasons.values()):5d} {operation}: {top}")
        return out


def load_schema(app):
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
    return schema


def _reason(response) -> str:
    try:
        error = json.loads(response.text)["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:120]
    details = error.get("details") or []
    if details:
        return f"{'.'.join(map(str, details[0]['loc'][-1:]))}: {details[0]['message'][:100]}"
    return error.get("message", "")[:120]


def fuzz(app, tokens: dict[str, str], examples: int, only: str = "", seed: int | None = None, progress=None) -> Report:
    """Send `examples` schema-valid random requests to every operation (whose path contains
    `only`) with each token; returns what was found."""
    from hypothesis import HealthCheck, Phase, given, settings

    report = Report()
    schema = load_schema(app)
    operations = [r.ok() for r in schema.get_all_operations() if only in r.ok().path]
    started = time.monotonic()
    for who, token in tokens.items():
        for operation in operations:
            run = given(case=operation.as_strategy())(
                settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=seed is not None,
                    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first example
                    suppress_health_check=list(HealthCheck),
                )(_sender(report, f"{operation.label} [{who}]", {"Authorization": f"Bearer {token}"}))
            )
            run()
            if progress:
                progress(f"{operation.label} [{who}]")
    report.seconds = time.monotonic() - started
    return report


def _sender(report: Report, label: str, headers: dict):
    """One example: send it, count its status, and record what the checks find."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    def send(case):
        response = case.call(headers=headers)
        report.requests += 1
        report.statuses[response.status_code] += 1
        if response.status_code in (400, 422):
            report.refused_valid[label][_reason(response)] += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                problem = f"{getattr(failure, 'title', type(failure).__name__)} ({response.status_code})"
                report.failures[label].setdefault(
                    problem, f"{case.as_curl_command(headers={'Authorization': '…'})} -> {response.text[:300]}"
                )

    return send


def seed_company():
    """An admin, a sales rep of team East (visibility "team"), and a few records of each kind for
    the random ids to hit; returns {who: token}."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth.models import Group

    from clm.core.models import ApiToken, Team, User, Workspace
    from clm.core.roles import sync_role_groups
    from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory

    sync_role_groups()
    workspace = Workspace.current()
    workspace.record_visibility = Workspace.Visibility.TEAM
    workspace.save()
    east = Team.objects.create(name="East")
    admin = User.objects.create_superuser("fuzz-admin", password="fuzz-admin-pw")
    rep = User.objects.create_user("fuzz-rep", password="fuzz-rep-pw", team=east)
    rep.groups.add(Group.objects.get(name="Sales"))
    category = TagCategory.objects.create(name="行业")
    tag = Tag.objects.create(category=category, value="制造")
    for i in range(1, 6):
        account = Account.objects.create(
            name=f"Fuzz {i}", sales_owner=rep if i % 2 else admin, annual_revenue=Decimal(1000 * i)
        )
        account.tags.add(tag)
        contact = Contact.objects.create(account=account, name=f"联系人 {i}", email=f"p{i}@example.com")
        Interaction.objects.create(
            account=account, contact=contact, type="call", summary="回访", occurred_at=dt.datetime.now(dt.UTC)
        )
    return {"admin": ApiToken.issue(admin, "fuzz")[1], "sales": ApiToken.issue(rep, "fuzz")[1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="random requests per operation and token")
    parser.add_argument("--only", default="", help="only operations whose path contains this")
    parser.add_argument("--seed", type=int, help="the same requests every run")
    args = parser.parse_args()

    from bench.common import setup_django

    label = setup_django("fuzz")
    import logging

    from clm.wsgi import application

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s and 422s are the point; 5xx still show

    tokens = seed_company()
    print(f"fuzzing the API on {label}: {args.examples} examples per operation, tokens {', '.join(tokens)}", flush=True)
    done = Counter()

    def progress(label):
        done["n"] += 1
        if done["n"] % 20 == 0:
            print(f"  … {done['n']} operation runs, last {label}", flush=True)

    report = fuzz(application, tokens, args.examples, args.only, args.seed, progress)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
