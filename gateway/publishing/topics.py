"""The MQTT topic tree, built only from configured ids.

>>> t = Topics(site="de-ffo", gateway="gw-1")
>>> t.status, t.lane_state("lane1")
('bx/v1/ops/de-ffo/gw-1/status', 'bx/v1/ops/de-ffo/gw-1/lane/lane1/state')
>>> t.enriched("lane1"), t.referral("sps", "lane1")
('bx/v1/customs/de-ffo/gw-1/enriched/lane1', 'bx/v1/sps/de-ffo/gw-1/referral/lane1')
>>> t.flag("high")
'bx/v1/customs/de-ffo/gw-1/flag/high'
>>> t.topic_class(t.lane_state("lane1")), t.topic_class(t.flag("high")), t.topic_class("elsewhere/x")
('lane_state', 'flag', 'other')
>>> t.lane_state("lane/1")
Traceback (most recent call last):
...
ValueError: 'lane/1' is not a valid id: ...

Every segment is a configured id (site, gateway, lane, command) or a fixed word (audience,
severity): plates, names, EORIs, MRNs and SSCCs never appear in a topic, because broker logs and
ACL audits see topics in clear.  The audience comes right after the base so one ACL line per
consumer (``bx/v1/sps/#``) is enough.

Replies go only under a fixed prefix next to the requests they answer, never to any topic a caller
names, so that a request cannot make the gateway publish on its other topics (a ``ping`` with the
Response Topic ``.../customs/.../enriched/lane1`` would otherwise put a reply among the customs
records).  The prefix is what the broker's ACL grants callers read on (``docs/mqtt-topics.md``):

>>> t.replies
'bx/v1/cmd/de-ffo/gw-1/reply/'
>>> check_reply_topic("bx/v1/cmd/de-ffo/gw-1/reply/console-7", t.replies)
'bx/v1/cmd/de-ffo/gw-1/reply/console-7'
>>> check_reply_topic("bx/v1/customs/de-ffo/gw-1/enriched/lane1", t.replies)
Traceback (most recent call last):
...
ValueError: the response topic must be under bx/v1/cmd/de-ffo/gw-1/reply/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from gateway.config.common import check_topic_segment

Agency = Literal["sps", "cites"]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
MAX_TOPIC_BYTES = 65_535  # MQTT's limit on a topic name (a UTF-8 string with a 16-bit length)
TopicClass = Literal["status", "capabilities", "lane_state", "passage", "observation", "enriched", "flag",
                     "referral", "command", "response"]

_CLASSES = frozenset(get_args(TopicClass))


def _segment(value: str) -> str:
    try:
        return check_topic_segment(value)
    except ValueError as exc:
        raise ValueError(str(exc).split(":")[0] + ": ...") from None


@dataclass(frozen=True, slots=True)
class Topics:
    site: str
    gateway: str
    base: str = "bx/v1"

    def __post_init__(self) -> None:
        _segment(self.site)
        _segment(self.gateway)
        for part in self.base.split("/"):
            _segment(part)

    def _ops(self, *rest: str) -> str:
        return "/".join((self.base, "ops", self.site, self.gateway, *rest))

    @property
    def status(self) -> str:
        return self._ops("status")

    @property
    def capabilities(self) -> str:
        return self._ops("capabilities")

    def lane_state(self, lane: str) -> str:
        return self._ops("lane", _segment(lane), "state")

    def lane_signal(self, lane: str) -> str:
        """The lane's signal (retained; Last Will ``stop``): :mod:`gateway.decisions.signals`."""
        return self._ops("lane", _segment(lane), "signal")

    def passage(self, lane: str) -> str:
        return self._ops("lane", _segment(lane), "passage")

    def observation(self, lane: str) -> str:
        return f"{self.base}/customs/{self.site}/{self.gateway}/observation/{_segment(lane)}"

    def enriched(self, lane: str) -> str:
        return f"{self.base}/customs/{self.site}/{self.gateway}/enriched/{_segment(lane)}"

    def flag(self, severity: str) -> str:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
        return f"{self.base}/customs/{self.site}/{self.gateway}/flag/{severity}"

    def referral(self, agency: str, lane: str) -> str:
        if agency not in ("sps", "cites"):
            raise ValueError(f"unknown agency {agency!r} (sps or cites)")
        return f"{self.base}/{agency}/{self.site}/{self.gateway}/referral/{_segment(lane)}"

    def command(self, command: str) -> str:
        return f"{self.base}/cmd/{self.site}/{self.gateway}/{_segment(command)}"

    def topic_class(self, topic: str) -> TopicClass | Literal["other"]:
        """The kind of one of this gateway's topics (the label of the publishing metrics): a bounded set."""
        head = f"{self.base}/"
        parts = topic[len(head):].split("/") if topic.startswith(head) else []
        if len(parts) < 4 or parts[1:3] != [self.site, self.gateway]:
            return "other"
        rest = parts[3:]
        kind = rest[2] if rest[0] == "lane" and len(rest) == 3 else rest[0]
        kind = "lane_state" if kind == "state" else "command" if parts[0] == "cmd" else kind
        return kind if kind in _CLASSES else "other"  # type: ignore[return-value]

    @property
    def commands(self) -> str:
        """Subscription filter for every command addressed to this gateway."""
        return f"{self.base}/cmd/{self.site}/{self.gateway}/+"

    @property
    def replies(self) -> str:
        """The prefix of every command reply: a request's response topic must lie under it (two levels or
        more below the command topics, so the command subscription never sees a reply)."""
        return f"{self.base}/cmd/{self.site}/{self.gateway}/{REPLY}/"


REPLY = "reply"  # the level under cmd/{site}/{gw}/ and in/{site}/{gw}/ that holds the replies


def check_reply_topic(topic: object, prefix: str) -> str:
    """``topic`` when a reply may go there: a topic name under ``prefix``; else ``ValueError`` saying why."""
    if not isinstance(topic, str):
        raise ValueError("the response topic must be a string")
    if not topic.startswith(prefix) or len(topic) == len(prefix):
        raise ValueError(f"the response topic must be under {prefix}")
    if "+" in topic or "#" in topic or "\x00" in topic:
        raise ValueError("the response topic must not contain wildcards (+, #) or NUL")
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate from a JSON body ("\\ud800")
        raise ValueError("the response topic is not valid UTF-8") from None
    if size > MAX_TOPIC_BYTES:
        raise ValueError(f"the response topic is longer than {MAX_TOPIC_BYTES} bytes")
    return topic
