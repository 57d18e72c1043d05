"""Data-protection preflight: before the first live call, what the vendor keeps, and whether that was opted out of.

Faces are biometric data, and the people in an audit consented to an audit, not to training a
vendor's models. Amazon's service terms let it store and use content processed by Rekognition to
develop and improve its services unless the customer's AWS Organization has an AI services opt-out
policy in force (the published Rekognition audit first obtained that opt-out). So before the first
live Rekognition call the kit:

1. asks AWS Organizations for the account's effective ``AISERVICES_OPT_OUT_POLICY``
   (``organizations:DescribeEffectivePolicy``), where the credentials allow it;
2. reads whether Rekognition is opted out (its own entry, else the policy's ``default``);
3. refuses to go live unless it is, or the run was given ``--accept-vendor-retention`` (an explicit,
   recorded acceptance that AWS may keep the photos);
4. says how many calls the run will make and what they cost: at most (every photo not yet recorded) and,
   for a sequential run, at least (its first look), by look and expected (data sized by `plan --sequential`);
   the calls made are added after the run;
5. records all of this in the report (``analyzer.retention_preflight``), with where the answer came
   from (``opt_out_source``: the Organizations endpoint, its class, the proxy on the way).

A state the kit cannot read (no permission, no organisation, a network fault) is never taken as
opted out, and neither is an opt-out answered by anything but AWS's own Organizations endpoint
(``AWS_ENDPOINT_URL_ORGANIZATIONS`` pointed at a stand-in can say anything), unless both it and the
photos are on this machine (the kit's emulator of both services on loopback, no remote proxy): a
remote host that is not AWS's endpoint over TLS cannot vouch for its own opt-out (red team 17c). Tested with botocore's Stubber: no
network, no credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConformanceError

__all__ = [
    "OPT_OUT_POLICY",
    "TERMS",
    "OptOut",
    "Preflight",
    "Source",
    "VendorRetentionRefused",
    "counted",
    "opt_out_state",
    "preflight",
]

OPT_OUT_POLICY = "AISERVICES_OPT_OUT_POLICY"
# What the vendor's terms say it keeps, in the kit's words (AWS Service Terms, Amazon Rekognition section;
# the AWS Organizations guide to AI services opt-out policies).
TERMS = (
    "Amazon may store and use images processed by Rekognition to develop and improve its services, unless "
    "the AWS Organization that owns the account has an AI services opt-out policy in force for Rekognition"
)


class VendorRetentionRefused(ConformanceError):
    """A live run refused: the vendor may keep the photos and that was neither opted out of nor accepted."""


@dataclass(frozen=True)
class OptOut:
    """The opt-out state read from AWS Organizations: ``opted_out`` True, False, or None when it could not be read."""

    opted_out: bool | None
    detail: str


def opt_out_state(organizations: Any, service: str = "rekognition") -> OptOut:
    """Whether ``service`` is opted out of AI-services content use, per the account's effective policy.

    ``organizations`` is a boto3 Organizations client. Each documented refusal becomes a state with
    its reason; nothing here raises for a policy that cannot be read.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = organizations.describe_effective_policy(PolicyType=OPT_OUT_POLICY)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        reasons = {
            "EffectivePolicyNotFoundException": (False, "no AI services opt-out policy is in force for this account"),
            "AWSOrganizationsNotInUseException": (
                False,
                "the account is not in an AWS Organization, so no opt-out policy can be in force",
            ),
            "AccessDeniedException": (
                None,
                "these credentials may not call organizations:DescribeEffectivePolicy; the opt-out state is unknown",
            ),
        }
        opted_out, detail = reasons.get(
            code, (None, f"AWS Organizations answered {code}; the opt-out state is unknown")
        )
        return OptOut(opted_out, detail)
    except BotoCoreError as exc:
        return OptOut(
            None, f"AWS Organizations could not be asked ({type(exc).__name__}); the opt-out state is unknown"
        )
    content = answer.get("EffectivePolicy", {}).get("PolicyContent", "")
    try:
        policy = json.loads(content) if isinstance(content, str) else {}
    except ValueError:
        return OptOut(None, "the effective opt-out policy is not JSON; the opt-out state is unknown")
    services = policy.get("services", {}) if isinstance(policy, Mapping) else {}
    for name in (service, "default"):
        entry = services.get(name) if isinstance(services, Mapping) else None
        value = _assigned(entry.get("opt_out_policy")) if isinstance(entry, Mapping) else None
        if value is not None:
            where = f"the effective AI services opt-out policy ({'its ' + service + ' entry' if name == service else 'its default'})"
            if value == "optOut":
                return OptOut(True, f"{where} opts out")
            return OptOut(False, f"{where} says {value}")
    return OptOut(False, f"the effective AI services opt-out policy names neither {service} nor a default")


@dataclass(frozen=True)
class Source:
    """Where calls go: an endpoint URL (credentials taken out), its class, and the proxy on the way (if any).

    ``kind``: ``aws`` for AWS's own endpoint of the service over TLS checked against the public
    certificate authorities (a proxy relays TLS it cannot read); ``loopback`` for an endpoint on this
    machine (or on the proxy's, when one is on the way); ``other`` for anything else.
    """

    url: str
    kind: str
    proxy: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.url, "class": self.kind, **({"proxy": self.proxy} if self.proxy else {})}

    def words(self) -> str:
        """The endpoint as a message names it."""
        what = {
            "aws": "AWS's own endpoint",
            "loopback": "a loopback stand-in, not AWS's endpoint",
            "other": "neither AWS's endpoint nor loopback",
        }.get(self.kind, "an endpoint of unknown class")
        return f"{self.url} ({what}{f', through the proxy {self.proxy}' if self.proxy else ''})"

    def same_stand_in(self, other: Source) -> bool:
        """Both endpoints a stand-in on this machine (the kit's emulator of both services), reached the same way.

        Only loopback, and only with no proxy or a loopback one: a remote host that is not AWS's endpoint
        over TLS cannot vouch for what it keeps, even of the photos sent to itself (red team 17c, F7).
        """
        from .recording.endpoints import is_loopback

        if self.kind != "loopback" or other.kind != "loopback" or self.proxy != other.proxy:
            return False
        return self.proxy is None or is_loopback(self.proxy)


def counted(state: OptOut, source: Source | None, target: Source) -> OptOut:
    """``state`` as the preflight counts it: an opt-out is one only when AWS's own Organizations endpoint said so.

    An opt-out answered by a stand-in (``AWS_ENDPOINT_URL_ORGANIZATIONS``, a profile's ``endpoint_url``)
    counts only when the photos go to the same kind of stand-in (``target``): a local emulator of both.
    """
    if state.opted_out is not True or source is None:
        return state
    if source.kind == "aws" or source.same_stand_in(target):
        return state
    from .recording.endpoints import is_loopback

    remote = next((s for s in (target, source) if s.kind == "other" or (s.proxy and not is_loopback(s.proxy))), None)
    if target.kind != "aws" and remote is not None:
        return OptOut(
            None,
            f"the opt-out was answered by the Organizations endpoint {source.words()}, and it is not taken as opted "
            f"out for calls to {target.words()} (it said: {state.detail}): {remote.words()} is neither AWS's own "
            "endpoint over TLS checked against the public certificate authorities nor on this machine, and a remote "
            "host's word proves nothing about what it, or whatever is behind it, keeps of the photos; only AWS's own "
            "Organizations endpoint (or the kit's emulator of both services, on loopback) vouches for an opt-out: "
            "unset AWS_ENDPOINT_URL_ORGANIZATIONS (or the profile's endpoint_url for organizations) to ask AWS",
        )
    return OptOut(
        None,
        f"the opt-out was answered by the Organizations endpoint {source.words()}, and an answer not from AWS's "
        f"own Organizations endpoint is not taken as opted out for calls to {target.words()} (it said: "
        f"{state.detail}); unset AWS_ENDPOINT_URL_ORGANIZATIONS (or the profile's endpoint_url for organizations) "
        "to ask AWS",
    )


def _assigned(value: object) -> str | None:
    """An effective policy's value: plain (``"optOut"``) or with its operator (``{"@@assign": "optOut"}``)."""
    if isinstance(value, Mapping):
        value = value.get("@@assign")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Preflight:
    """What the preflight found and decided, as the report records it."""

    vendor: str
    terms: str
    opted_out: bool | None
    detail: str
    accepted_retention: bool
    calls: int | None  # at most: every call the run plans (None: it planned none, e.g. precheck=False)
    cost: float | None  # of ``calls``
    calls_note: str
    calls_min: int | None = None  # at least: a sequential run's first look (None: ``calls``, all of them)
    cost_min: float | None = None
    calls_by_look: tuple[int, ...] = ()  # a sequential run's photos by look, cumulative
    source: Source | None = None  # where the Organizations answer came from (None: no client could be made)
    target: Source | None = None  # where the photos go
    price: str = ""  # the price the costs are at, and where it comes from (--price-per-1000 or the list price)
    # A sequential run's expected photos (conformance.sequential_design.expected_sent), and their cost.
    calls_expected: int | None = None
    cost_expected: float | None = None

    def to_json(self) -> dict[str, Any]:
        least = self.calls if self.calls_min is None else self.calls_min
        least_cost = self.cost if self.cost_min is None else self.cost_min
        return {
            "vendor": self.vendor,
            "terms": self.terms,
            "opt_out_policy": OPT_OUT_POLICY,
            "opted_out": self.opted_out,
            "detail": self.detail,
            "accepted_retention": self.accepted_retention,
            "calls": self.calls,
            "cost": None if self.cost is None else round(self.cost, 2),
            # The run's calls at most and at least (a sequential run stops once every check is settled).
            "calls_max": self.calls,
            "calls_min": least,
            "cost_min": None if least_cost is None else round(least_cost, 2),
            **({"calls_by_look": list(self.calls_by_look)} if self.calls_by_look else {}),
            **(
                {"calls_expected": self.calls_expected, "cost_expected": round(self.cost_expected or 0.0, 2)}
                if self.calls_expected is not None
                else {}
            ),
            "calls_note": self.calls_note,
            **({"price": self.price} if self.price else {}),
            # Where the opt-out answer came from, and where the photos go: a stand-in's answer is not AWS's.
            **({"opt_out_source": self.source.to_json()} if self.source else {}),
            **({"calls_to": self.target.to_json()} if self.target else {}),
        }


def preflight(
    organizations: Callable[[], Any],
    *,
    accept_retention: bool,
    calls: int | None,
    price_per_image: float,
    price_note: str = "",
    calls_note: str = "",
    calls_min: int | None = None,
    calls_by_look: tuple[int, ...] = (),
    calls_expected: int | None = None,
    vendor: str = "Amazon Rekognition",
    source_of: Callable[[Any], Source],
    target: Source,
) -> Preflight:
    """Check the opt-out before a live run; raise :class:`VendorRetentionRefused` unless it is in force or accepted.

    ``organizations`` makes the Organizations client (called once; a failure to make it is an
    unknown state, not a pass). ``calls``: the most the run will make (None: not planned);
    ``calls_min``: the fewest (a sequential run's first look); ``calls_by_look``: a sequential run's
    photos by look; ``calls_expected``: the photos it is expected to send. ``source_of`` reads from
    the client made where it sends its question (endpoint, class, proxy); ``target`` is where the
    photos go: see :func:`counted`.
    """
    from botocore.exceptions import BotoCoreError

    calls_by_look, calls_expected = _calls_left(calls, calls_min, calls_by_look, calls_expected)
    source: Source | None = None
    try:
        client = organizations()
    except BotoCoreError as exc:  # a missing profile or region, an unreadable config: the state stays unknown
        state = OptOut(
            None, f"no AWS Organizations client could be made ({type(exc).__name__}); the opt-out state is unknown"
        )
    else:
        source = source_of(client)
        state = counted(opt_out_state(client), source, target)
    record = Preflight(
        vendor,
        TERMS,
        state.opted_out,
        state.detail,
        accept_retention,
        calls,
        None if calls is None else calls * price_per_image,
        calls_note,
        calls_min,
        None if calls_min is None else calls_min * price_per_image,
        calls_by_look,
        source,
        target,
        price_note,
        calls_expected,
        None if calls_expected is None else calls_expected * price_per_image,
    )
    if state.opted_out is not True and not accept_retention:
        raise VendorRetentionRefused(
            f"refusing to send photos to {vendor}: {TERMS}, and {state.detail}. Either put an AI services opt-out "
            "policy in force for Rekognition in your AWS Organization (AWS Organizations > Policies > AI services "
            "opt-out policies; the account must be able to call organizations:DescribeEffectivePolicy for the kit to "
            "see it), or pass --accept-vendor-retention (pytest --conformance-accept-vendor-retention) to accept, on "
            "the record, that the vendor may keep the photos"
        )
    return record


def _calls_left(
    calls: int | None, calls_min: int | None, by_look: tuple[int, ...], expected: int | None
) -> tuple[tuple[int, ...], int | None]:
    """A sequential run's calls by look and expected, over the photos not yet recorded (red team 17d F4).

    The looks' photo counts and the expected photos are the whole plan's; ``calls`` (the most) counts only
    the photos not yet recorded. A resumed run recorded a prefix of the looks' order (the looks are sent
    in order), so look ``k`` calls for ``max(0, photos by look k - photos recorded)``, and the expected
    calls are the expected photos less those recorded, kept between the fewest and the most: never the
    438 expected against 370 at most that a resumed run's record said.
    """
    if calls is None or not by_look:
        return by_look, expected
    recorded = max(0, by_look[-1] - calls)
    left = tuple(max(0, n - recorded) for n in by_look)
    if expected is None:
        return left, None
    return left, min(calls, max(calls_min if calls_min is not None else 0, expected - recorded))
