"""Deterministic, realistic demo data, and the well-known demo accounts and keys.

The account ids, API keys, gateway key and connection ids below are constants: they are the same for every
seed and profile, so the demo loader and tests can point a ClientAccount at the sandbox without asking it
anything. The seed only decides the data inside the accounts (ids of companies, calls, ...; names, times).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from .store import LEGACY_CALL_STRIDE, AccountData, Call

if TYPE_CHECKING:
    from .state import SandboxState

PROFILES = ("demo", "small", "empty")
GATEWAY_KEY = "a449311edd210bfcd753436d6fa6fdc7"
AGENCY_KEY = "8d1e17ee05887158ffbf0d50ec16cfc6"
REPORTING_KEY = "a567bd0db57a667ce14a007365868f92"


@dataclass(frozen=True)
class DemoAccount:
    """One demo CallRail account and the two ways to reach it."""

    account_id: str
    numeric_id: int
    name: str
    time_zone: str
    api_key: str  # direct: Authorization: Token token="<api_key>"
    gateway_key: str  # gateway: Authorization: Bearer <gateway_key>
    connection_id: str  # gateway: Maton-Connection: <connection_id>

    def token_headers(self) -> dict[str, str]:
        return {"Authorization": f'Token token="{self.api_key}"'}

    def gateway_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.gateway_key}", "Maton-Connection": self.connection_id}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount(
        account_id="ACC68a221373a359eae97a705f1254afe9d",
        numeric_id=318402217,
        name="Summit Dental Group",
        time_zone="America/Denver",
        api_key="188848527be0c076297f8d68d72380e2",
        gateway_key=GATEWAY_KEY,
        connection_id="d189b666-63f2-468a-8ff0-02bb339580a1",
    ),
    DemoAccount(
        account_id="ACCcada72e79ae73396c6f0bd8accab3e4d",
        numeric_id=427715930,
        name="Lakeside Auto Repair",
        time_zone="America/Chicago",
        api_key="dda9686b5aa53151cb29fe9a8c697bd6",
        gateway_key=GATEWAY_KEY,
        connection_id="7324bfe0-014f-424c-a628-98e710a0141b",
    ),
    DemoAccount(
        account_id="ACC8ba85d70683452c644980460101f9a3e",
        numeric_id=563019874,
        name="Brightline Heating & Air",
        time_zone="America/New_York",
        api_key="c8b7df59b94ca02a7b45d61cf2bab61e",
        gateway_key=GATEWAY_KEY,
        connection_id="930992ab-70c3-45cb-8edf-aef9fa1cf903",
    ),
    DemoAccount(
        account_id="ACC40a7a561d340e2f30208a13b5209fe05",
        numeric_id=690284511,
        name="Harbor Legal Partners",
        time_zone="America/Los_Angeles",
        api_key="fe79b23539bed62fc18d2095c3d35b23",
        gateway_key=GATEWAY_KEY,
        connection_id="3b9bc292-4cb7-4cea-b344-b153b3453d04",
    ),
]

# --------------------------------------------------------------------------------------------------------------
# blueprints: what each demo account looks like


@dataclass
class Blueprint:
    domain: str
    companies: list[tuple[str, str, str, list[tuple[str, str]]]]  # name, time zone, area code, cities
    tags: list[tuple[str, str]]  # account-level tags (name, colour)
    company_tags: list[tuple[str, str]]
    keywords: list[str]
    notes: list[str]
    value_range: tuple[int, int]
    summaries: list[str]
    users: list[tuple[str, str, str]] = field(default_factory=list)  # first, last, role


_CO_DENVER = [("Denver", "CO"), ("Aurora", "CO"), ("Lakewood", "CO"), ("Littleton", "CO"), ("Englewood", "CO")]
_CO_BOULDER = [("Boulder", "CO"), ("Louisville", "CO"), ("Longmont", "CO"), ("Lafayette", "CO")]
_WI = [("Madison", "WI"), ("Middleton", "WI"), ("Sun Prairie", "WI"), ("Verona", "WI")]
_WI_MKE = [("Milwaukee", "WI"), ("Wauwatosa", "WI"), ("West Allis", "WI"), ("Greenfield", "WI")]
_IL = [("Rockford", "IL"), ("Belvidere", "IL"), ("Loves Park", "IL")]
_GA = [("Atlanta", "GA"), ("Decatur", "GA"), ("Marietta", "GA"), ("Sandy Springs", "GA"), ("Smyrna", "GA")]
_NC = [("Charlotte", "NC"), ("Concord", "NC"), ("Matthews", "NC"), ("Gastonia", "NC")]
_CA_SD = [("San Diego", "CA"), ("Chula Vista", "CA"), ("La Mesa", "CA"), ("El Cajon", "CA")]
_CA_LA = [("Los Angeles", "CA"), ("Pasadena", "CA"), ("Glendale", "CA"), ("Burbank", "CA"), ("Santa Monica", "CA")]

BLUEPRINTS: dict[str, Blueprint] = {
    DEMO_ACCOUNTS[0].account_id: Blueprint(
        domain="summitdental.example.com",
        companies=[
            ("Summit Dental - Downtown Denver", "America/Denver", "303", _CO_DENVER),
            ("Summit Dental - Boulder", "America/Denver", "720", _CO_BOULDER),
            ("Summit Kids Dentistry", "America/Denver", "303", _CO_DENVER),
        ],
        tags=[("New Patient", "green2"), ("Existing Patient", "blue1"), ("Spam Risk", "red2")],
        company_tags=[("Appointment Booked", "green4"), ("Insurance Question", "yellow1"),
                      ("Emergency", "red1"), ("Price Shopper", "orange3")],
        keywords=["dentist near me", "emergency dentist", "teeth whitening", "invisalign cost",
                  "dental implants denver", "pediatric dentist"],
        notes=["Booked a cleaning for next Tuesday.", "Asked whether we take Delta Dental.",
               "Chipped tooth - fit in same day.", "Wants an Invisalign consult, call back after 3pm.",
               "Rescheduled hygiene appointment."],
        value_range=(120, 4500),
        summaries=["The caller asked about availability for a new patient exam and booked an appointment.",
                   "The caller had a dental emergency and was offered a same-day visit.",
                   "The caller asked which insurance plans are accepted and requested a call back."],
        users=[("Dana", "Whitfield", "admin"), ("Marcus", "Lee", "admin"), ("Priya", "Raman", "manager"),
               ("Tom", "Becker", "reporting"), ("Alicia", "Gomez", "reporting")],
    ),
    DEMO_ACCOUNTS[1].account_id: Blueprint(
        domain="lakesideauto.example.com",
        companies=[
            ("Lakeside Auto - Madison", "America/Chicago", "608", _WI),
            ("Lakeside Auto - Milwaukee", "America/Chicago", "414", _WI_MKE),
            ("Lakeside Collision Center", "America/Chicago", "815", _IL),
        ],
        tags=[("Quote Requested", "blue2"), ("Repeat Customer", "green1"), ("Spam Risk", "red2")],
        company_tags=[("Brake Service", "orange2"), ("Oil Change", "yellow2"), ("Appointment Booked", "green4"),
                      ("Warranty", "purple1")],
        keywords=["auto repair near me", "brake repair", "check engine light", "oil change coupon",
                  "transmission repair cost"],
        notes=["Customer dropping car off Monday 8am.", "Quoted $389 for front pads and rotors.",
               "Check engine light - P0420, scheduled diagnostic.", "Asked about loaner availability."],
        value_range=(60, 3200),
        summaries=["The caller requested a quote for brake service and scheduled a drop-off.",
                   "The caller asked about the cost of a diagnostic for a check engine light.",
                   "The caller wanted to know whether the shop services European vehicles."],
        users=[("Greg", "Olsen", "admin"), ("Kara", "Lindqvist", "manager"), ("Jamal", "Price", "reporting"),
               ("Nina", "Kowalski", "reporting")],
    ),
    DEMO_ACCOUNTS[2].account_id: Blueprint(
        domain="brightlinehvac.example.com",
        companies=[
            ("Brightline Heating & Air - Atlanta", "America/New_York", "404", _GA),
            ("Brightline Heating & Air - Charlotte", "America/New_York", "704", _NC),
        ],
        tags=[("Service Call", "cyan2"), ("Maintenance Plan", "green3"), ("Spam Risk", "red2")],
        company_tags=[("No Heat", "red1"), ("AC Repair", "blue2"), ("Install Estimate", "purple2"),
                      ("Appointment Booked", "green4")],
        keywords=["ac repair near me", "furnace repair", "hvac installation cost", "heat pump service",
                  "emergency hvac"],
        notes=["No heat - technician dispatched for this afternoon.", "Wants estimate for a new heat pump.",
               "Renewed maintenance plan over the phone.", "Thermostat issue, walked through reset."],
        value_range=(90, 12000),
        summaries=["The caller reported no heat and a technician was scheduled the same day.",
                   "The caller requested an estimate for replacing a 15-year-old AC unit.",
                   "The caller asked about the annual maintenance plan."],
        users=[("Renee", "Carter", "admin"), ("Luis", "Ortega", "manager"), ("Beth", "Nguyen", "reporting")],
    ),
    DEMO_ACCOUNTS[3].account_id: Blueprint(
        domain="harborlegal.example.com",
        companies=[
            ("Harbor Legal - San Diego", "America/Los_Angeles", "619", _CA_SD),
            ("Harbor Legal - Los Angeles", "America/Los_Angeles", "213", _CA_LA),
        ],
        tags=[("Potential Client", "green2"), ("Existing Client", "blue1"), ("Spam Risk", "red2")],
        company_tags=[("Personal Injury", "orange4"), ("Family Law", "pink2"), ("Consultation Booked", "green4"),
                      ("Not a Fit", "gray2")],
        keywords=["personal injury lawyer", "car accident attorney", "divorce lawyer near me",
                  "free legal consultation", "workers comp attorney"],
        notes=["Rear-end collision last week, consult booked with J. Park.", "Custody question - referred out.",
               "Wants to know about contingency fees.", "Slip and fall at grocery store, sending intake form."],
        value_range=(500, 25000),
        summaries=["The caller was injured in a car accident and booked a free consultation.",
                   "The caller asked about fees for a divorce case.",
                   "The caller wanted an update on an existing case and was transferred to the paralegal."],
        users=[("Jennifer", "Park", "admin"), ("David", "Rosen", "admin"), ("Maya", "Castillo", "manager"),
               ("Owen", "Fitzgerald", "reporting")],
    ),
}

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley",
    "Andrew", "Kimberly", "Kevin", "Emily", "Brian", "Donna", "Jose", "Michelle", "Tyler", "Amanda",
    "Aaron", "Melissa", "Luis", "Stephanie", "Eric", "Rebecca", "Jacob", "Laura", "Kaylah", "Hannah",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Mills", "Ruegsegger",
]
# session-tracker traffic: source, medium, share
WEB_SOURCES = [
    ("Google Organic", "organic", 36),
    ("Google Ads", "cpc", 24),
    ("Direct", "direct", 14),
    ("Bing Organic", "organic", 5),
    ("Bing Ads", "cpc", 4),
    ("Facebook", "social", 5),
    ("Facebook Ads", "cpc", 4),
    ("Yelp", "referral", 8),
]
_REFERRERS = {
    "Google Organic": "https://www.google.com/",
    "Google Ads": "https://www.google.com/",
    "Bing Organic": "https://www.bing.com/",
    "Bing Ads": "https://www.bing.com/",
    "Facebook": "https://m.facebook.com/",
    "Facebook Ads": "https://l.facebook.com/",
    "Yelp": "https://www.yelp.com/",
    "Direct": None,
}
_LANDING_PATHS = ["/", "/services/", "/contact/", "/about/", "/specials/", "/locations/", "/blog/"]
_WEEKDAY_WEIGHT = [1.0, 1.05, 1.0, 0.97, 0.9, 0.42, 0.22]
_HOUR_WEIGHT = [0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 2.2, 5.5, 8.0, 8.5, 8.0, 6.8, 7.5, 7.8, 7.2,
                6.4, 4.8, 2.8, 1.8, 1.2, 0.8, 0.5, 0.2]
_HOUR_CUM = list(accumulate(_HOUR_WEIGHT))
_SENTIMENTS = ["positive", "positive", "neutral", "neutral", "negative"]
_MESSAGES_IN = [
    "Hi, do you have any openings this week?", "Can I get a quote?", "Is this the right number to reschedule?",
    "Thanks! See you then.", "What are your hours on Saturday?", "Running 10 min late, sorry!",
    "Do you take walk-ins?", "Can someone call me back?",
]
_MESSAGES_OUT = [
    "Thanks for reaching out! We have openings Thursday at 10am or 2pm. Reply STOP to opt out.",
    "You're all set - see you then!", "We're open 8am-2pm on Saturdays.",
    "Sure, someone will call you back within the hour.", "No problem, thanks for letting us know.",
]


def _web_source(roll: float) -> tuple[str, str]:
    for source, medium, share in WEB_SOURCES:
        roll -= share
        if roll <= 0:
            return source, medium
    return WEB_SOURCES[0][0], WEB_SOURCES[0][1]


@dataclass
class SeedOptions:
    seed: int = 1
    profile: str = "demo"
    calls_per_account: int | None = None
    history_days: int | None = None
    accounts: int | None = None  # how many accounts: DEMO_ACCOUNTS first, then ``scale_account``s (default: 4)
    first_account_calls: int | None = None  # calls of the first account alone (one big account among many)
    anchor: datetime | None = None  # "now" for the generated history (default: the current hour)

    def resolved(self) -> tuple[int, int]:
        defaults = {"demo": (2500, 395), "small": (120, 60), "empty": (0, 0)}[self.profile]
        calls = self.calls_per_account if self.calls_per_account is not None else defaults[0]
        days = self.history_days if self.history_days is not None else defaults[1]
        if calls and not days:
            days = 60
        return calls, min(days, 740)


# --------------------------------------------------------------------------------------------------------------
# the synthesiser: builds one account's structure, then calls, forms and texts; reused by activity generation


class Synth:
    """Everything needed to invent plausible records for one account, driven by one seeded RNG."""

    def __init__(self, state: SandboxState, acc: AccountData, blueprint: Blueprint, rng: random.Random):
        self.state = state
        self.acc = acc
        self.bp = blueprint
        self.rng = rng
        self.company_meta: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, list[dict[str, Any]]] = {}
        self.seq = 0
        self._lookups: dict[str, Any] | None = None

    # ids -----------------------------------------------------------------------------------------------------
    def hex_id(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    def phone(self, area_code: str) -> str:
        while True:
            number = f"+1{area_code}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}"
            if number not in self.state.used_numbers:
                self.state.used_numbers.add(number)
                return number

    # structure -----------------------------------------------------------------------------------------------
    def build_structure(self, profile: str, anchor: datetime, history_days: int) -> None:
        from .resources import new_company, new_tag

        ctx = self.state.system_ctx(self.acc, anchor)
        rng = self.rng
        companies = self.bp.companies if profile == "demo" else self.bp.companies[: 1 if profile == "empty" else 2]
        created_base = anchor - timedelta(days=max(history_days, 30) + rng.randint(20, 400))
        for index, (name, tz, area, cities) in enumerate(companies):
            company = new_company(ctx, name, tz)
            company["created"] = created_base + timedelta(
                days=index * rng.randint(3, 40), seconds=rng.randint(0, 86399), microseconds=rng.randint(0, 999) * 1000
            )
            company["dni_active"] = profile != "empty"
            company["callscribe_enabled"] = index == 0
            company["form_capture"] = profile != "empty"
            company["swap_cookie_duration"], company["swap_cookie_duration_unit"] = rng.choice(
                [(6, "months"), (30, "days"), (90, "days")]
            )
            if index == 0:  # a verified outbound caller ID (listed by caller_ids.json and verified_caller_ids)
                number = self.phone(area)
                caller_id = {"id": self.state.next_int("caller_id"), "phone_number": number,
                             "name": "Front Desk Cell", "verified": True, "created": anchor - timedelta(days=400),
                             "validation_code": number[-6:], "_company_id": company["id"]}
                self.acc.caller_ids[caller_id["id"]] = caller_id
            self.acc.companies[company["id"]] = company
            self.company_meta[company["id"]] = {"area": area, "cities": cities, "trackers": []}
            self.customers[company["id"]] = []
        self.acc.time_zone = companies[0][1]

        # users: the first is the owner of the account's API key
        people = self.bp.users if profile == "demo" else self.bp.users[:1] if profile == "empty" else self.bp.users[:3]
        company_ids = list(self.acc.companies)
        for index, (first, last, role) in enumerate(people):
            assigned = [] if role == "admin" else company_ids[: 1 + (index % len(company_ids))]
            self.acc.users[self.hex_id("USR")] = {
                "email": f"{first.lower()}.{last.lower()}@{self.bp.domain}",
                "first_name": first,
                "last_name": last,
                "role": role,
                "accepted": index != len(people) - 1 or profile == "empty",
                "created": created_base + timedelta(days=index * 11, seconds=rng.randint(0, 86399),
                                                    microseconds=rng.randint(0, 999) * 1000),
                "_company_ids": assigned,
            }
        for user_id, user in self.acc.users.items():
            user["id"] = user_id
        if profile == "empty":
            return

        for tag_name, colour in self.bp.tags:
            tag = new_tag(ctx, tag_name, None, colour)
            tag["created"] = created_base + timedelta(days=rng.randint(1, 30), seconds=rng.randint(0, 86399))
        for company_id in company_ids:
            for tag_name, colour in self.bp.company_tags:
                tag = new_tag(ctx, tag_name, company_id, colour)
                tag["created"] = created_base + timedelta(days=rng.randint(1, 60), seconds=rng.randint(0, 86399))
        first_company_tags = [t for t in self.acc.tags.values() if t["company_id"] == company_ids[0]]
        if first_company_tags and profile == "demo":
            first_company_tags[-1]["status"] = "disabled"

        for index, company_id in enumerate(company_ids):
            self._trackers(company_id, index, profile, created_base)
        self._settings(profile)

    def _tracker(self, company_id: str, name: str, kind: str, source: dict, *, count: int = 1,
                 recording: bool = True, sms: bool = False, toll_free: bool = False, created: datetime,
                 campaign: str | None = None, greeting: str | None = None) -> dict:
        meta = self.company_meta[company_id]
        area = "888" if toll_free else meta["area"]
        destination = self.phone(meta["area"])
        tracker = {
            "id": self.hex_id("TRK"),
            "name": name,
            "type": kind,
            "status": "active",
            "tracking_numbers": [self.phone(area) for _ in range(count)],
            "whisper_message": "Call from [source]." if kind == "session" else None,
            "sms_enabled": sms and not toll_free,
            "sms_supported": not toll_free,
            "_company_id": company_id,
            "call_flow": {
                "type": "basic",
                "recording_enabled": recording,
                "destination_number": destination,
                "greeting_text": greeting,
                "greeting_recording_url": None,
            },
            "source": source,
            "created": created,
            "disabled": None,
            "campaign_name": campaign,
            "swap_targets": [destination[2:]],
            "_outbound_form_number": False,
        }
        self.acc.trackers[tracker["id"]] = tracker
        meta["trackers"].append(tracker)
        return tracker

    def _trackers(self, company_id: str, index: int, profile: str, created_base: datetime) -> None:
        rng = self.rng
        when = created_base + timedelta(days=2 + index, seconds=rng.randint(0, 86399))
        greeting = "This call may be recorded for quality assurance."
        website = self._tracker(
            company_id, "Website Visitors", "session", {"type": "all"}, count=6 if profile == "demo" else 4,
            sms=True, created=when, greeting=greeting,
        )
        website["_weight"] = 5.0
        ads = self._tracker(
            company_id, "Google Ads", "source",
            {"type": "search", "search_engine": "google", "search_type": "paid"},
            created=when + timedelta(hours=3), campaign="Search - Brand + Services", greeting=greeting,
        )
        ads["_weight"] = 2.5
        gmb = self._tracker(company_id, "Google My Business", "source", {"type": "google_my_business"},
                            sms=True, created=when + timedelta(days=1), greeting=greeting)
        gmb["_weight"] = 2.0
        if profile != "demo":
            return
        yelp = self._tracker(company_id, "Yelp Listing", "source", {"type": "web_referrer", "referrer": "yelp.com"},
                             created=when + timedelta(days=5), recording=False)
        yelp["_weight"] = 0.8
        if index == 0:
            board = self._tracker(company_id, "Billboard - Highway 36", "source", {"type": "offline"},
                                  toll_free=True, created=when + timedelta(days=30), campaign="Spring Billboard")
            board["_weight"] = 0.7
            board["_outbound_form_number"] = True
        old = self._tracker(company_id, "Direct Mail - Fall Postcard", "source", {"type": "offline"},
                            created=when + timedelta(days=9), recording=False, campaign="Fall Postcard")
        old["status"] = "disabled"
        old["disabled"] = when + timedelta(days=120)
        old["_weight"] = 0.0

    def _settings(self, profile: str) -> None:
        """Notifications, summary email subscriptions and pre-existing integrations."""
        rng = self.rng
        state = self.state
        users = list(self.acc.users.values())
        company_ids = list(self.acc.companies)
        admin = users[0]

        def note(user_id, email=None, company_id=None, tracker_id=None, alert="all", calls=True, sms=True,
                 email_on=True, push=False, desktop=False):
            n = {
                "id": state.next_int("notification"),
                "user_id": user_id,
                "email": email,
                "agent_id": None,
                "alert_type": alert if calls else None,
                "call_enabled": calls,
                "company_id": company_id,
                "tracker_id": tracker_id,
                "send_desktop": desktop,
                "send_email": email_on,
                "send_push": push,
                "sms_enabled": sms,
            }
            self.acc.notifications[n["id"]] = n

        note(admin["id"], push=True)
        for user in users[1:]:
            if user["role"] == "manager":
                note(user["id"], company_id=company_ids[0], alert="missed_and_vm", desktop=True)
            elif user["role"] == "reporting":
                tracker = self.company_meta[user["_company_ids"][0]]["trackers"][0] if user["_company_ids"] else None
                note(user["id"], company_id=tracker["_company_id"] if tracker else None,
                     tracker_id=tracker["id"] if tracker else None, alert="vm_only", sms=False, push=True)
        note(None, email=f"frontdesk@{self.bp.domain}", company_id=company_ids[0], alert="first_call", sms=False)

        def subscription(user_id, company_id, frequency, email=None, filters=None, call_log=True):
            record = {
                "id": self.hex_id("CSS"),
                "_company_id": company_id,
                "frequency": frequency,
                "config": {"summary_statistics": True, "top_sources": True, "top_keywords": rng.random() < 0.7,
                           "call_log": call_log},
                "filters": filters,
                "user_id": user_id,
                "email": email,
            }
            self.acc.summary_emails[record["id"]] = record

        subscription(admin["id"], None, ["weekly"])
        managers = [u for u in users if u["role"] == "manager"]
        if managers:
            subscription(managers[0]["id"], company_ids[0], ["daily", "weekly"], filters={"lead_status": "Lead"})
        subscription(None, company_ids[-1], ["monthly"], email=f"owner@{self.bp.domain}", call_log=False)

        if profile == "demo":
            for index, company_id in enumerate(company_ids):
                if index == 0:
                    self._integration(company_id, "Custom", "active", {"grab_cookies": ["_ga", "hubspotutk"]})
                    self._integration(company_id, "Slack", "disabled", {"channel": "#new-leads"})
                else:
                    self._integration(company_id, "GoogleAnalytics", "active",
                                      {"tracking_id": f"G-{rng.getrandbits(40):010X}"})

    def _integration(self, company_id: str, kind: str, status: str, config: dict) -> None:
        integration = {"id": self.state.next_int("integration"), "type": kind, "state": status, "config": config,
                       "_company_id": company_id}
        self.acc.integrations[integration["id"]] = integration

    # people ----------------------------------------------------------------------------------------------------
    def customer(self, company_id: str, *, repeat_share: float = 0.28) -> dict[str, Any]:
        rng = self.rng
        pool = self.customers[company_id]
        if pool and rng.random() < repeat_share:
            return pool[int(len(pool) * (rng.random() ** 1.6))]
        meta = self.company_meta[company_id]
        city, state = rng.choice(meta["cities"])
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        roll = rng.random()
        if roll < 0.62:
            caller_id = f"{last.upper()} {first.upper()}"
        elif roll < 0.84:
            caller_id = f"{city.upper()}, {state}"
        else:
            caller_id = None
        person = {
            "first": first,
            "last": last,
            "caller_id": caller_id,
            "city": city,
            "state": state,
            "phone": self.phone(meta["area"] if rng.random() < 0.7 else rng.choice(["720", "970", "312", "404",
                                                                                      "619", "414", "980", "512"])),
            "person_id": self.hex_id("PER"),
            "good_lead": False,
        }
        pool.append(person)
        return person

    def attribution(self, tracker: dict) -> tuple:
        """source, medium, campaign, keywords, landing page, referring url, device for a call to ``tracker``."""
        rng = self.rng
        source_cfg = tracker["source"]
        site = f"https://www.{self.bp.domain}"
        if tracker["type"] == "session":
            source, medium = _web_source(rng.random() * 100)
            paid = medium == "cpc"
            keywords = rng.choice(self.bp.keywords) if paid else None
            campaign = ("Search - Brand + Services" if source.startswith(("Google", "Bing")) else "Retargeting") \
                if paid else None
            path = rng.choice(_LANDING_PATHS)
            landing = f"{site}{path}"
            if paid:
                engine = source.split()[0].lower()
                landing += f"?utm_source={engine}&utm_medium=cpc&keyword={keywords.replace(' ', '%20')}"
            device = "mobile" if rng.random() < 0.63 else "desktop"
            return source, medium, campaign, keywords, landing, _REFERRERS[source], device
        kind = source_cfg.get("type")
        if kind == "search":
            return ("Google Ads", "cpc", tracker["campaign_name"], rng.choice(self.bp.keywords), None,
                    "https://www.google.com/", None)
        if kind == "google_my_business":
            return "Google My Business", "organic", None, None, None, None, None
        if kind == "web_referrer":
            return "Yelp", "referral", None, None, None, "https://www.yelp.com/", None
        return tracker["name"], "offline", tracker["campaign_name"], None, None, None, None

    # calls -----------------------------------------------------------------------------------------------------
    def lookups(self) -> dict[str, Any]:
        """Per-company lists used for every call; cached during bulk seeding, rebuilt otherwise."""
        if self._lookups is not None:
            return self._lookups
        from .timeutil import zone

        trackers, cum = self.weighted_trackers()
        tags = {
            cid: [t["id"] for t in self.acc.tags.values()
                  if t["status"] == "enabled" and t["company_id"] in (cid, None) and t["name"] != "Spam Risk"]
            for cid in self.acc.companies
        }
        agents = {
            cid: [u["id"] for u in self.acc.users.values() if u["role"] == "admin" or cid in u["_company_ids"]]
            for cid in self.acc.companies
        }
        return {
            "trackers": trackers,
            "cum": cum,
            "tags": tags,
            "spam": [t["id"] for t in self.acc.tags.values() if t["name"] == "Spam Risk"][:1],
            "agents": agents,
            "zones": {cid: zone(c["time_zone"]) for cid, c in self.acc.companies.items()},
        }

    def weighted_trackers(self) -> tuple[list[dict], list[float]]:
        trackers = [t for t in self.acc.trackers.values() if t.get("_weight", 1.0) > 0]
        return trackers, list(accumulate(t.get("_weight", 1.0) for t in trackers))

    def call_times(self, count: int, anchor: datetime, days: int) -> list[float]:
        """``count`` start times spread over ``days`` before ``anchor``: weekdays and business hours weigh more."""
        rng = self.rng
        from .timeutil import zone

        tz = zone(self.acc.time_zone)
        end_ts = anchor.timestamp()
        # volume grows slowly towards today
        day_weights = []
        today = anchor.astimezone(tz).date()
        for back in range(days):
            day = today - timedelta(days=back)
            day_weights.append(_WEEKDAY_WEIGHT[day.weekday()] * (1.0 - 0.35 * back / max(days, 1)))
        cum_days = list(accumulate(day_weights))
        total_days = cum_days[-1]
        total_hours = _HOUR_CUM[-1]
        midnight_offsets = {}
        times = []
        while len(times) < count:
            back = bisect_right(cum_days, rng.random() * total_days)
            back = min(back, days - 1)
            if back not in midnight_offsets:
                day = today - timedelta(days=back)
                midnight_offsets[back] = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
            hour = bisect_right(_HOUR_CUM, rng.random() * total_hours)
            ts = midnight_offsets[back] + min(hour, 23) * 3600 + rng.random() * 3600
            if ts < end_ts - 60:
                times.append(round(ts, 3))
        times.sort()
        return times

    def make_call(self, start_ts: float, *, tracker: dict | None = None, direction: str | None = None,
                  in_progress: bool = False) -> Call:
        rng = self.rng
        look = self.lookups()
        if tracker is None:
            trackers, cum = look["trackers"], look["cum"]
            tracker = trackers[min(bisect_right(cum, rng.random() * cum[-1]), len(trackers) - 1)]
        company_id = tracker["_company_id"]
        person = self.customer(company_id)
        if direction is None:
            direction = "outbound" if rng.random() < 0.06 else "inbound"
        start = datetime.fromtimestamp(start_ts, UTC)
        local = start.astimezone(look["zones"][company_id])
        open_hours = (local.weekday() < 5 and 8 <= local.hour < 18) or (local.weekday() == 5 and 9 <= local.hour < 13)
        source, medium, campaign, keywords, landing, referrer, device = self.attribution(tracker)
        roll = rng.random()
        if direction == "outbound":
            answered, voicemail = roll < 0.62, False
        elif open_hours:
            answered, voicemail = roll < 0.74, 0.74 <= roll < 0.89
        else:
            answered, voicemail = roll < 0.14, 0.14 <= roll < 0.62
        if in_progress:
            answered, voicemail, duration = None, False, None
        elif answered:
            duration = int(20 + rng.expovariate(1 / 190))
        elif voicemail:
            duration = int(14 + rng.random() * 70)
        else:
            duration = int(rng.random() * 24)
        recording = bool(tracker["call_flow"].get("recording_enabled")) and (answered or voicemail) and not in_progress
        lead_status = None
        if person["good_lead"] and rng.random() < 0.6:
            lead_status = "previously_marked_good_lead"
        elif answered and duration and duration > 75:
            r = rng.random()
            lead_status = "good_lead" if r < 0.36 else "not_a_lead" if r < 0.46 else None
        elif not in_progress and rng.random() < 0.07:
            lead_status = "not_a_lead"
        if lead_status == "good_lead":
            person["good_lead"] = True
        tag_ids: list[int] = []
        if answered and rng.random() < 0.38:
            pool = look["tags"][company_id]
            if pool:
                tag_ids = rng.sample(pool, k=min(len(pool), 1 + (rng.random() < 0.3)))
        elif not answered and duration is not None and duration < 5 and rng.random() < 0.1:
            tag_ids = list(look["spam"])
        value = None
        if lead_status == "good_lead" and rng.random() < 0.45:
            low, high = self.bp.value_range
            value = float(round(low + (high - low) * rng.random() ** 2.2, -1 if high > 1000 else 0))
        agents = look["agents"][company_id]
        agent_id = agents[int(rng.random() * len(agents))] if answered and agents else None
        transcription = sentiment = summary = None
        if recording and answered and duration > 30 and rng.random() < 0.5:
            summary = rng.choice(self.bp.summaries)
            transcription = f"Agent: Thanks for calling, how can I help? Caller: {summary}"
            sentiment = rng.choice(_SENTIMENTS)
        self.seq += 1
        number = tracker["tracking_numbers"][int(rng.random() * len(tracker["tracking_numbers"]))]
        return Call(
            id=self.hex_id("CAL"),
            seq=self.seq,
            company_id=company_id,
            tracker_id=tracker["id"],
            start=start,
            start_ts=start_ts,
            created=start + timedelta(milliseconds=17 + int(rng.random() * 400)),
            direction=direction,
            answered=answered,
            voicemail=voicemail,
            in_progress=in_progress,
            duration=duration,
            customer_name=person["caller_id"],
            customer_phone_number=person["phone"],
            customer_city=person["city"],
            customer_state=person["state"],
            customer_country="US",
            business_phone_number=tracker["call_flow"].get("destination_number") if answered else None,
            tracking_phone_number=number,
            recording_key=f"{rng.getrandbits(80):020x}" if recording else None,
            recording_duration=(duration if answered else max((duration or 0) - 9, 3)) if recording else None,
            source=source,
            medium=medium,
            campaign=campaign,
            keywords=keywords,
            landing_page_url=landing,
            referring_url=referrer,
            device_type=device,
            lead_status=lead_status,
            note=rng.choice(self.bp.notes) if answered and rng.random() < 0.07 else None,
            value=value,
            tag_ids=tag_ids,
            agent_id=agent_id,
            person_id=person["person_id"],
            transcription=transcription,
            sentiment=sentiment,
            call_summary=summary,
            spam=False,
        )

    def seed_calls(self, count: int, anchor: datetime, days: int) -> None:
        if count <= 0 or not self.acc.trackers:
            return
        self._lookups = None
        self._lookups = self.lookups()
        try:
            calls = [self.make_call(ts) for ts in self.call_times(count, anchor, days)]
        finally:
            self._lookups = None
        counts = self.acc.caller_counts
        for call in calls:
            key = (call.company_id, call.customer_phone_number)
            call.prior_calls = counts[key]
            call.first_call = call.prior_calls == 0
            counts[key] += 1
        self.acc.calls.load_sorted(calls)
        self.state.call_seq = max(self.state.call_seq, self.seq)

    # forms and texts ---------------------------------------------------------------------------------------------
    def form_fields(self, company_id: str) -> tuple[dict, dict]:
        rng = self.rng
        person = self.customer(company_id, repeat_share=0.15)
        trackers = [t for t in self.acc.trackers.values() if t["_company_id"] == company_id and t["type"] == "session"]
        tracker = trackers[0] if trackers else next(iter(self.acc.trackers.values()))
        source, medium, campaign, keywords, landing, referrer, _ = self.attribution(tracker)
        site = f"https://www.{self.bp.domain}"
        form_data = {
            "name": f"{person['first']} {person['last']}",
            "email": f"{person['first'].lower()}.{person['last'].lower()}{rng.randint(1, 99)}@example.net",
            "phone": f"({person['phone'][2:5]}) {person['phone'][5:8]}-{person['phone'][8:]}",
            "message": rng.choice(["Please call me about scheduling.", "Looking for a quote.",
                                   "Do you have availability next week?", "Question about pricing."]),
            "best_time_to_call": rng.choice(["morning", "afternoon", "evening"]),
        }
        extra = {
            "referrer": {"Direct": "direct", "Google Organic": "google_organic", "Google Ads": "google_paid"}.get(
                source, source.lower().replace(" ", "_")),
            "referring_url": referrer or site,
            "landing_page_url": landing or f"{site}/",
            "form_url": f"{site}{rng.choice(['/contact/', '/request-appointment/', '/quote/'])}",
            "source": source,
            "medium": {"cpc": "CPC", "organic": "Organic"}.get(medium, medium),
            "campaign": campaign,
            "keywords": keywords,
            "form_name": rng.choice(["Contact Us", "Request an Appointment", "Get a Quote"]),
        }
        return form_data, extra

    def seed_forms(self, count: int, anchor: datetime, days: int) -> None:
        company_ids = list(self.acc.companies)
        if not company_ids or count <= 0:
            return
        times = sorted(anchor.timestamp() - self.rng.random() * days * 86400 for _ in range(count))
        for ts in times:
            company_id = self.rng.choice(company_ids)
            form_data, extra = self.form_fields(company_id)
            form = self.state.new_form_submission(
                self.acc, company_id, form_data, submitted=datetime.fromtimestamp(ts, UTC), rng=self.rng, **extra
            )
            roll = self.rng.random()
            form["lead_status"] = "good_lead" if roll < 0.3 else "not_a_lead" if roll < 0.38 else None
            if roll < 0.2:
                form["value"] = float(self.rng.randint(*self.bp.value_range))

    def seed_texts(self, count: int, anchor: datetime, days: int) -> None:
        trackers = [t for t in self.acc.trackers.values() if t["sms_enabled"] and t["status"] == "active"]
        if not trackers or count <= 0:
            return
        users = list(self.acc.users.values())
        for _ in range(count):
            tracker = self.rng.choice(trackers)
            person = self.customer(tracker["_company_id"], repeat_share=0.2)
            ts = anchor.timestamp() - self.rng.random() ** 1.5 * days * 86400
            for index in range(self.rng.randint(1, 6)):
                incoming = index % 2 == 0
                when = datetime.fromtimestamp(ts + index * self.rng.randint(40, 2400), UTC)
                if when > anchor:
                    break
                self.state.add_text_message(
                    self.acc, tracker["_company_id"], tracker, tracker["tracking_numbers"][0], person["phone"],
                    self.rng.choice(_MESSAGES_IN if incoming else _MESSAGES_OUT),
                    "incoming" if incoming else "outgoing", when,
                    user_id=None if incoming else self.rng.choice(users)["id"],
                    customer_name=person["caller_id"], rng=self.rng,
                )


#: Most accounts one sandbox holds (the four demo accounts and generated ones).
MAX_ACCOUNTS = 10_000


def scale_account(index: int) -> DemoAccount:
    """The ``index``-th account (from 0) of a sandbox seeded with ``accounts=N``: the four demo accounts, then
    generated ones whose ids and API key follow from the index alone (like the demo constants, for every seed),
    each filled from the blueprint of demo account ``index % 4`` — a benchmark's thousand client accounts."""
    if index < len(DEMO_ACCOUNTS):
        return DEMO_ACCOUNTS[index]
    digest = hashlib.sha256(f"callrail-sandbox:scale-account:{index}".encode()).hexdigest()
    like = DEMO_ACCOUNTS[index % len(DEMO_ACCOUNTS)]
    return DemoAccount(
        account_id=f"ACC{digest[:32]}",
        numeric_id=400_000_000 + index,
        name=f"{like.name} #{index}",
        time_zone=like.time_zone,
        api_key=digest[32:64],
        gateway_key=GATEWAY_KEY,
        connection_id=str(uuid.UUID(digest[16:48])),
    )


def populate(state: SandboxState, options: SeedOptions, anchor: datetime) -> dict[str, Synth]:
    """Create the accounts in ``state`` (which must be empty) and fill them for ``options``."""
    calls, days = options.resolved()
    count = len(DEMO_ACCOUNTS) if options.accounts is None else max(1, min(options.accounts, MAX_ACCOUNTS))
    synths = {}
    for index in range(count):
        demo = scale_account(index)
        rng = random.Random(f"callrail-sandbox:{options.seed}:{demo.account_id}")
        acc = AccountData(
            id=demo.account_id,
            numeric_id=demo.numeric_id,
            name=demo.name,
            time_zone=demo.time_zone,
            outbound_recording_enabled=index != 2,
            hipaa_account=False,
            created=anchor - timedelta(days=800 + index * 37),
        )
        acc.calls.legacy_base = LEGACY_CALL_STRIDE * (index + 1)
        state.accounts[acc.id] = acc
        synth = Synth(state, acc, BLUEPRINTS[DEMO_ACCOUNTS[index % len(DEMO_ACCOUNTS)].account_id], rng)
        synth.build_structure(options.profile, anchor, days)
        if options.profile != "empty":
            own = options.first_account_calls if index == 0 and options.first_account_calls is not None else calls
            synth.seed_calls(own, anchor, days)
            synth.seed_forms(min(own // 9, 3000), anchor, days)
            synth.seed_texts(min(max(8, own // 60), 400) if own else 0, anchor, max(days, 1))
        synths[acc.id] = synth
    _keys(state, count)
    return synths


def _keys(state: SandboxState, count: int) -> None:
    """Direct keys (one per account, owned by its first admin), the agency and reporting keys, the gateway."""
    state.token_keys.clear()
    state.gateway_keys.clear()
    accounts = [scale_account(index) for index in range(count)]
    for demo in accounts:
        owner = next(iter(state.accounts[demo.account_id].users))
        state.token_keys[demo.api_key] = {demo.account_id: owner}
    # an agency user who was invited to the first two accounts as an administrator
    agency_grants = {}
    for demo in accounts[:2]:
        acc = state.accounts[demo.account_id]
        user_id = "USR5a6e9c1d0b7f4e2aa1c3d5e7f9b0a2c4"
        if user_id not in acc.users:
            acc.users[user_id] = {
                "id": user_id,
                "email": "ops@northstar-agency.example.com",
                "first_name": "Northstar",
                "last_name": "Agency",
                "role": "admin",
                "accepted": True,
                "created": acc.created + timedelta(days=3),
                "_company_ids": [],
            }
        agency_grants[demo.account_id] = user_id
    state.token_keys[AGENCY_KEY] = agency_grants
    # a reporting user of the first account: sees only the companies assigned to them
    first = state.accounts[accounts[0].account_id]
    reporting = next((u for u in first.users.values() if u["role"] == "reporting"), None)
    if reporting is None:
        reporting = {
            "id": "USR0e4f6a8b2c1d3e5f7a9b0c2d4e6f8a1b",
            "email": f"reporting@{BLUEPRINTS[first.id].domain}",
            "first_name": "Riley",
            "last_name": "Reporter",
            "role": "reporting",
            "accepted": True,
            "created": first.created,
            "_company_ids": list(first.companies)[:1],
        }
        first.users[reporting["id"]] = reporting
    reporting["accepted"] = True
    state.token_keys[REPORTING_KEY] = {first.id: reporting["id"]}
    # one gateway key holding one connection per account; the first is the default (oldest)
    state.gateway_keys[GATEWAY_KEY] = [
        (demo.connection_id, {demo.account_id: next(iter(state.accounts[demo.account_id].users))})
        for demo in accounts
    ]


__all__ = [
    "AGENCY_KEY",
    "DEMO_ACCOUNTS",
    "GATEWAY_KEY",
    "PROFILES",
    "REPORTING_KEY",
    "DemoAccount",
    "SeedOptions",
    "Synth",
    "populate",
    "scale_account",
]
