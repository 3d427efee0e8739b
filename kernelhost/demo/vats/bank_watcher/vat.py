"""Bank watcher: asks the chain for balances through the bridge device and keeps the
balance updates the chain pushes in (bridge inbound events)."""

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    D = vat_powers.D  # noqa: N806
    state = {"bridge": None, "balances": {}, "updates": 0}

    def on_inbound(event):
        if isinstance(event, dict) and event.get("type") == "VBANK_BALANCE_UPDATE":
            for update in event.get("updated", []):
                state["balances"][f"{update['address']}/{update['denom']}"] = update["amount"]
            state["updates"] += 1

    handler = Far("BankEventHandler", {"inbound": on_inbound})

    def set_bridge(bridge):
        state["bridge"] = bridge
        D(bridge).register_handler(handler)

    def query_balance(address, denom="ucon"):
        """A synchronous chain query (recorded in this vat's transcript)."""
        if state["bridge"] is None:
            raise RuntimeError("no bridge device yet")
        answer = D(state["bridge"]).call({"type": "VBANK_GET_BALANCE", "address": address, "denom": denom})
        state["balances"][f"{address}/{denom}"] = answer.get("amount")
        return answer.get("amount")

    def get_balances():
        return dict(state["balances"])

    def get_update_count():
        return state["updates"]

    return Far("BankWatcher", {
        "set_bridge": set_bridge,
        "query_balance": query_balance,
        "get_balances": get_balances,
        "get_update_count": get_update_count,
    })
