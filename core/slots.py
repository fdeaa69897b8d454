"""Named places in core pages where plugins put widgets (see ``register_widgets``)."""

SLOTS = {
    "home.main": "Home page, under the list of policies",
    "policy.main": "Policy page, main column (trajectories, tables)",
    "policy.aside": "Policy page, side column",
    "policy.indicator": "Policy page, inside each indicator card",
}
