"""The example's tools: the suite's tool_results call these with the model's arguments."""

ORDERS = {
    "A1001": {"status": "shipped", "delivery": "tomorrow"},
    "A1002": {"status": "packing", "delivery": "in 3 days"},
    "A1003": {"status": "delivered", "delivery": "yesterday"},
}


def lookup_order(order_id: str) -> dict[str, str]:
    """An order's status, or an error the model can read."""
    return ORDERS.get(order_id.strip().upper(), {"error": f"no order {order_id}"})
