"""The admin back office's catalogue in one place: routes, buses (with seat layouts),
schedules, promo codes and users. Each kind lives in its own module (admin_routes,
admin_buses, admin_schedules, admin_promos, admin_users); this one gathers their public calls.

Every call owns its transaction, takes the acting admin and ``now``, writes an activity_logs
row per change in the same transaction and raises CatalogError / NotFound / Conflict with a
message for people; a refusal changes nothing. Each ``list_<kind>(filters, sort, page,
per_page)`` returns a Page searched, filtered, sorted and cut in SQL. Routes, buses and
promo codes can also be switched on or off many at once (``preview_active_many`` then
``set_active_many``: one transaction, all or nothing).
"""

from booking.services import admin_buses, admin_promos, admin_routes
from booking.services.admin_buses import (
    BusData,
    LayoutRefused,
    check_layout,
    create_bus,
    get_bus,
    list_buses,
    set_bus_active,
    update_bus,
)
from booking.services.admin_common import (
    ACTIVE_MESSAGES,
    ActiveChange,
    ActiveKind,
    CatalogError,
    Page,
    preview_active,
    switch_active,
)
from booking.services.admin_promos import (
    PromoData,
    create_promo_code,
    get_promo_code,
    list_promo_codes,
    set_promo_active,
    update_promo_code,
)
from booking.services.admin_routes import (
    RouteData,
    StopData,
    create_route,
    get_route,
    list_routes,
    set_route_active,
    update_route,
)
from booking.services.admin_schedules import (
    ScheduleData,
    ScheduleRow,
    create_schedule,
    get_schedule,
    list_schedules,
    update_schedule,
)
from booking.services.admin_users import (
    get_account,
    list_users,
    set_user_active,
    update_user,
)
from booking.services.errors import NotFound

__all__ = [
    "ActiveChange",
    "BusData",
    "CatalogError",
    "LayoutRefused",
    "Page",
    "PromoData",
    "RouteData",
    "ScheduleData",
    "ScheduleRow",
    "StopData",
    "check_layout",
    "create_bus",
    "create_promo_code",
    "create_route",
    "create_schedule",
    "get_account",
    "get_bus",
    "get_promo_code",
    "get_route",
    "get_schedule",
    "list_buses",
    "list_promo_codes",
    "list_routes",
    "list_schedules",
    "list_users",
    "preview_active_many",
    "set_active_many",
    "set_bus_active",
    "set_promo_active",
    "set_route_active",
    "set_user_active",
    "update_bus",
    "update_promo_code",
    "update_route",
    "update_schedule",
    "update_user",
]


# The kinds whose rows can be switched on or off many at once.
ACTIVE_KINDS: dict[str, ActiveKind] = {
    "routes": admin_routes.ACTIVE,
    "buses": admin_buses.ACTIVE,
    "promo_codes": admin_promos.ACTIVE,
}


def _active_kind(kind: str) -> ActiveKind:
    """:raise NotFound: for a kind that cannot be switched many at once."""
    spec = ACTIVE_KINDS.get(kind)
    if spec is None:
        raise NotFound(ACTIVE_MESSAGES["unknown_kind"])
    return spec


def preview_active_many(kind: str, ids, active: bool, now) -> list[ActiveChange]:
    """What ``set_active_many`` would do to each chosen row, refusals included; writes nothing.

    :raise NotFound: an unknown kind; CatalogError: nothing chosen.
    """
    return preview_active(_active_kind(kind), ids, active, now)


def set_active_many(kind: str, ids, active: bool, *, actor_id, now) -> int:
    """Switch every chosen row on (or off) in one transaction, all or nothing (see
    ``admin_common.switch_active``). Returns how many changed.

    :raise NotFound: an unknown kind; Conflict: a row is refused; CatalogError: none chosen.
    """
    return switch_active(_active_kind(kind), kind, ids, active, actor_id=actor_id, now=now)
