"""From what is wrong now to the messages people get: on changes only, grouped, never twice.

Each look compares the conditions now (platform_core.alerts.conditions) with those of the last look,
which the state keeps (the platform's sensor keeps it in its cursor, so a restart of the daemon
resends nothing):

- a condition that appears, or gets worse (a freshness warning that fails), **breaks**;
- a condition that goes **recovers** (a sunset that passes just goes);
- one that stays says nothing more.

The changes of one look are grouped per recipient: one message each, however many products and
checks it concerns. A message that does not go (a mail server down) is kept and tried again at
the next looks, for a day; the failure is reported and written in the sent log, and nothing else
of the platform depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from platform_core.alerts.channels import Message, Recipient, SendError, send
from platform_core.alerts.conditions import LEVELS, Condition, Readers
from platform_core.catalog.mesh import Mesh
from platform_core.descriptors.mesh_index import DOMAIN_FILE, MeshIndex, descriptor_data
from platform_core.descriptors.spec import Domain, Product, Webhook
from platform_core.settings import AlertSettings

RETRY_FOR = timedelta(days=1)  # a message that has not gone by then is given up, and said so in the log
SAMPLE_ROWS = 5
RECOVERED = {
    "not_published": "{subject} is published again",
    "warn_rule": "{subject}: the warning check passes again",
    "freshness": "{subject} is fresh again",
    "run_failed": "{subject}: its runs succeed again",
    "location_down": "domain {subject} loads again",
    "expectation_broken": "{subject} meets what its consumer expects again",
}
Sender = Callable[[Recipient, Message, AlertSettings], None]


@dataclass(frozen=True)
class Change:
    what: str  # broke, worse, recovered
    key: str
    state: Mapping[str, Any]  # the condition as the state keeps it
    condition: Condition | None = None  # the condition itself, when it is one now

    @property
    def line(self) -> str:
        if self.what == "recovered":
            return "RECOVERED: " + RECOVERED.get(str(self.state["kind"]), "{subject} is right again").format(
                subject=self.state["subject"]
            )
        return ("WORSE: " if self.what == "worse" else "BROKEN: ") + str(self.state["title"])


@dataclass(frozen=True)
class Sent:
    at: datetime
    recipient: str
    subject: str
    keys: tuple[str, ...]
    status: str  # sent, failed (will retry), given up
    error: str | None = None

    def line(self) -> str:
        return json.dumps({**self.__dict__, "at": self.at.isoformat(), "keys": list(self.keys)}) + "\n"


def changes(previous: Mapping[str, Mapping[str, Any]], now: Iterable[Condition]) -> list[Change]:
    """What broke, got worse or recovered between the last look and this one."""
    found, current = [], {c.key: c for c in now}
    for key, condition in current.items():
        before = previous.get(key)
        if before is None:
            found.append(Change("broke", key, condition.as_state, condition))
        elif LEVELS.index(condition.level) > LEVELS.index(str(before.get("level", "warn"))):
            found.append(Change("worse", key, condition.as_state, condition))
    for key, before in previous.items():
        if key not in current and before.get("recovers", True):
            found.append(Change("recovered", key, before))
    return found


def look(
    state: Mapping[str, Any],
    now_conditions: list[Condition],
    mesh: Mesh,
    index: MeshIndex,
    settings: AlertSettings,
    sent_log: Path | None,
    now: datetime | None = None,
    sender: Sender = send,
) -> tuple[dict[str, Any], list[Sent]]:
    """One look: the changes since `state`, sent grouped per recipient (and what failed before,
    again); the state to keep, and what was sent or failed."""
    now = now or datetime.now(UTC)
    previous = state.get("active", {})
    held = _held(previous, now_conditions)
    found = changes({k: v for k, v in previous.items() if k not in held}, now_conditions)
    pending: list[dict[str, Any]] = list(state.get("retry", []))
    if settings.enabled:
        routes = _Routes(mesh, index)
        grouped: dict[str, tuple[Recipient, list[Change]]] = {}
        for change in found:
            for recipient, reader in routes.of(change.state):
                grouped.setdefault(recipient.key, (recipient, []))[1].append(_for(change, reader))
        pending += [
            {
                "recipient": recipient.__dict__,
                "message": message(changes_, settings).__dict__,
                "keys": [c.key for c in changes_],
                "since": now.isoformat(),
            }
            for recipient, changes_ in grouped.values()
        ]
    sent, retry = [], []
    for item in pending:
        recipient, text = Recipient(**item["recipient"]), Message(**item["message"])
        try:
            sender(recipient, text, settings)
        except SendError as error:
            expired = now - datetime.fromisoformat(item["since"]) > RETRY_FOR
            sent.append(
                Sent(
                    now,
                    recipient.key,
                    text.subject,
                    tuple(item["keys"]),
                    "given up" if expired else "failed",
                    str(error),
                )
            )
            if not expired:
                retry.append(item)
            continue
        sent.append(Sent(now, recipient.key, text.subject, tuple(item["keys"]), "sent"))
    if sent_log is not None and sent:
        sent_log.parent.mkdir(parents=True, exist_ok=True)
        with open(sent_log, "a", encoding="utf-8") as log:
            log.write("".join(s.line() for s in sent))
    active = {**held, **{c.key: c.as_state for c in now_conditions}}
    return {"v": 1, "active": active, "retry": retry}, sent


def _held(previous: Mapping[str, Mapping[str, Any]], now: list[Condition]) -> dict[str, Mapping[str, Any]]:
    """What was wrong with the products of a domain that does not load now: nothing of theirs can
    be looked at, so nothing of theirs recovers until the domain loads again and says."""
    down = {c.subject for c in now if c.kind == "location_down"}
    current = {c.key for c in now}
    return {
        key: state
        for key, state in previous.items()
        if key not in current
        and state.get("kind") != "location_down"
        and str(state.get("subject")).split(".")[0] in down
    }


def _for(change: Change, reader: str | None) -> Change:
    """The change as one of its audience reads it (a consumer is told which product of theirs reads it)."""
    if reader is None:
        return change
    return Change(change.what, change.key, {**change.state, "consumer": reader}, change.condition)


def message(found: list[Change], settings: AlertSettings) -> Message:
    """One message for one recipient: every change of the look that concerns them."""
    subject = (
        found[0].line
        if len(found) == 1
        else f"{len(found)} changes in the data mesh: " + "; ".join(sorted({str(c.state["subject"]) for c in found}))
    )
    blocks = []
    for change in found:
        lines = [change.line]
        condition = change.condition
        if change.state.get("consumer"):
            lines.append(
                f"You hear of it because {change.state['consumer']}, of yours, reads {change.state['subject']}."
            )
        if condition is not None and change.what != "recovered":
            lines += [f"  {d}" for d in condition.detail]
            if condition.sample:
                lines.append(f"  failing rows (a sample of {min(len(condition.sample), SAMPLE_ROWS)}):")
                lines += [f"    {_row(row)}" for row in condition.sample[:SAMPLE_ROWS]]
            if condition.run_id:
                lines.append(f"  run: {settings.ui_url}/runs/{condition.run_id}")
            if condition.link:
                lines.append(f"  see: {condition.link}")
        blocks.append("\n".join(lines))
    text = (
        "\n\n".join(blocks)
        + "\n\n-- the data mesh's alerts (docs/alerts.md): one message when it breaks, one when it recovers\n"
    )
    data: dict[str, object] = {
        "changes": [
            {"what": c.what, "key": c.key, "line": c.line, **{k: v for k, v in c.state.items() if k != "audience"}}
            for c in found
        ]
    }
    return Message(subject[:200], text, data)


def _row(row: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items())


class _Routes:
    """Who a condition's audience is, as e-mail addresses and webhooks."""

    def __init__(self, mesh: Mesh, index: MeshIndex) -> None:
        self.products = {p.product_address: p for p in mesh.products}
        self.domains = {d.name: d for d in mesh.domains}
        self.index = index

    def of(self, state: Mapping[str, Any]) -> list[tuple[Recipient, str | None]]:
        """Each recipient, with the product of theirs that reads what the condition is about (None
        for an owner: one who is both hears as owner)."""
        found: dict[str, tuple[Recipient, str | None]] = {}
        for product, role, domain in state.get("audience", []):
            for recipient in self._recipients(product, domain):
                if recipient.key not in found or role == "owner":
                    found[recipient.key] = (recipient, product if role == "consumer" else None)
        return list(found.values())

    def _recipients(self, product: str | None, domain: str | None) -> list[Recipient]:
        if product is not None and product in self.products:
            return recipients_of(self.products[product], self.domains.get(product.split(".")[0]))
        if domain is not None:
            return self._unloaded(domain)
        return []

    def _unloaded(self, name: str) -> list[Recipient]:
        """A domain that does not load: its owner and channels, as its domain.yaml says."""
        if name in self.domains:
            domain = self.domains[name]
            contact = domain.owner.contact
            webhooks = domain.alerts.webhooks if domain.alerts else ()
        else:
            folder = self.index.domain_dir(name)
            found = descriptor_data(folder / DOMAIN_FILE, component=False) if folder is not None else None
            data = found if isinstance(found, dict) else {}
            owner = data.get("owner") if isinstance(data.get("owner"), dict) else {}
            contact = owner.get("contact") if isinstance(owner, dict) else None
            raw = (data.get("alerts") or {}).get("webhooks") if isinstance(data.get("alerts"), dict) else None
            webhooks = tuple(_webhooks(raw))
        emails = [Recipient("email", str(contact))] if contact else []
        return emails + [_webhook(name, w) for w in webhooks]


def recipients_of(product: Product, domain: Domain | None) -> list[Recipient]:
    """Who hears of a product: its owner's contact and the product's other addresses, and the
    domain's webhooks it names (all of them, unless it names some)."""
    alerts = product.alerts
    emails = [product.owner.contact, *(alerts.to if alerts else ())]
    hooks = domain.alerts.webhooks if domain is not None and domain.alerts else ()
    named = alerts.webhooks if alerts is not None else None
    chosen = [w for w in hooks if named is None or w.name in named]
    return [Recipient("email", e) for e in dict.fromkeys(e for e in emails if e)] + [
        _webhook(product.domain, w) for w in chosen
    ]


def _webhook(domain: str, webhook: Webhook) -> Recipient:
    return Recipient("webhook", f"{domain}/{webhook.name}", webhook.url_variable, webhook.format)


def _webhooks(raw: object) -> Iterable[Webhook]:
    for entry in raw if isinstance(raw, list) else []:
        try:
            yield Webhook.model_validate(entry)
        except ValueError:
            continue  # the domain's loader says what is wrong with it


def sent_log(root: Path) -> Path:
    return root / "alerts" / "sent.jsonl"


def read_sent(log: Path, last: int = 50) -> list[dict[str, Any]]:
    """The last messages sent (or not), newest last."""
    if not log.is_file():
        return []
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line) for line in lines[-last:]]


def configured(mesh: Mesh) -> list[dict[str, object]]:
    """Who hears of each product: its recipients, and the consumer products subscribed to its ports."""
    domains = {d.name: d for d in mesh.domains}
    readers = Readers(mesh)
    rows: list[dict[str, object]] = []
    for product in sorted(mesh.products, key=lambda p: p.product_address):
        subscribed = sorted({reader for _, reader in readers.of_product(product)})
        rows.append(
            {
                "product": product.product_address,
                "hears": [r.address for r in recipients_of(product, domains.get(product.domain))],
                "consumers subscribed": subscribed,
            }
        )
    return rows


def test_message(domain: str) -> Message:
    text = (
        f"This is a test of the data mesh's alerts for domain {domain}: this address or channel hears when one of "
        "its products is not published, fails a warning check, goes stale, fails a run, when the domain stops "
        "loading, when a consumer's expectation breaks and when a sunset comes near (docs/alerts.md).\n"
    )
    return Message(f"Test alert for domain {domain}", text, {"test": True, "domain": domain})
