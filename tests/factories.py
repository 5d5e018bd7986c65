"""factory_boy factories for tenancy; resource apps add their own next to their tests."""

import factory
from factory.django import DjangoModelFactory

from apps.credentials.models import Credential
from apps.tenancy.models import Agency, AuthMode, ClientAccount, Membership, Role, User

TEST_PASSWORD = "correct-horse-battery-9"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(TEST_PASSWORD)


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class CredentialFactory(DjangoModelFactory):
    """A direct key of its own per account unless a test shares one (``credential=...``)."""

    class Meta:
        model = Credential

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Key {n}")
    auth_mode = AuthMode.DIRECT
    api_key = factory.Sequence(lambda n: f"key-{n:024d}")


class ClientAccountFactory(DjangoModelFactory):
    """``credential__api_key=``, ``credential__base_url=`` set the account's own credential."""

    class Meta:
        model = ClientAccount

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Client {n}")
    callrail_account_id = factory.Sequence(lambda n: f"ACC{n:032x}")
    credential = factory.SubFactory(CredentialFactory, agency=factory.SelfAttribute("..agency"))
    time_zone = "America/New_York"


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.STAFF

    @factory.post_generation
    def client_accounts(self, create, extracted, **kwargs):
        if create and extracted:
            self.client_accounts.set(extracted)
