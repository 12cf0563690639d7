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
    ActiveChange,
    CatalogError,
    Page,
    preview_active_many,
    set_active_many,
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
    unlock_user,
    update_user,
)

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
    "unlock_user",
    "update_bus",
    "update_promo_code",
    "update_route",
    "update_schedule",
    "update_user",
]
