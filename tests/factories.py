"""Plain builders of records the tests share: call them with what matters to the test, and they
fill in the rest the way the application would (a subscription with its first ledger row, a
ledger row chained on the previous one, an order with its lines)."""

from decimal import Decimal

from django.contrib.auth.models import Group


def make_user(username, role, team=None, **extra):
    """A user with the role's group and the password "pw-<username>"."""
    from clm.core.models import User

    user = User.objects.create_user(username=username, password="pw-" + username, team=team, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_account(name="华为技术", **fields):
    from clm.customers.models import Account

    return Account.objects.create(name=name, **fields)


def ledger(subscription, day, kind, mrr, seats, status="active"):
    """A ledger row that chains on the subscription's previous one, as the ledger must."""
    from clm.commerce.models import SubscriptionChange

    before = SubscriptionChange.objects.filter(subscription=subscription).order_by("effective_date", "id").last()
    return SubscriptionChange.objects.create(
        subscription=subscription,
        account=subscription.account,
        effective_date=day,
        kind=kind,
        mrr_before=before.mrr_after if before else 0,
        mrr_after=Decimal(mrr),
        seats_before=before.seats_after if before else 0,
        seats_after=seats,
        status_after=status,
    )


def new_subscription(account, start, mrr, seats=1, **fields):
    """A live subscription from `start`, with the "new" ledger row it begins with."""
    from clm.commerce.models import Subscription

    subscription = Subscription.objects.create(
        account=account, start_date=start, mrr=Decimal(mrr), seats=seats, **fields
    )
    ledger(subscription, start, "new", mrr, seats)
    return subscription


def order(account, day, amount, *, cost=Decimal("0"), products=(), **fields):
    """An order, split evenly over one line per product when products are given."""
    from clm.commerce.models import Order, OrderLine

    placed = Order.objects.create(account=account, ordered_on=day, amount=Decimal(amount), cost=cost, **fields)
    for n, product in enumerate(products, start=1):
        OrderLine.objects.create(order=placed, line_no=n, product=product, amount=Decimal(amount) / len(products))
    return placed
