"""Timer device: block height and block time from the host, and wake-ups.

The host calls ``controller.timer_poll(height, time_ms)`` at each block; due
wake-ups become ``wake(time_ms)`` messages to their handlers, in (time, id)
order. Vats read the time only through this device, so it is consensus data.
"""

from __future__ import annotations

from .base import Device, DeviceError

__all__ = ["TimerDevice"]


class TimerDevice(Device):
    name = "timer"
    methods = frozenset({"get_current_time", "get_block_height", "set_wakeup", "remove_wakeup"})

    def initial_state(self) -> dict:
        return {"height": 0, "time": 0, "wakeups": [], "nextID": 1}

    def get_current_time(self) -> int:
        return self.get_state()["time"]

    def get_block_height(self) -> int:
        return self.get_state()["height"]

    def set_wakeup(self, when_ms, handler) -> int:
        if type(when_ms) is not int:
            raise DeviceError("set_wakeup(when_ms, handler): when_ms must be an int")
        st = self.get_state()
        wid = st["nextID"]
        st["nextID"] = wid + 1
        st["wakeups"].append([when_ms, wid, self.hold(handler)])
        st["wakeups"].sort()
        self.set_state(st)
        return wid

    def remove_wakeup(self, wakeup_id) -> bool:
        st = self.get_state()
        keep = []
        removed = False
        for w in st["wakeups"]:
            if w[1] == wakeup_id:
                self.release(w[2])
                removed = True
            else:
                keep.append(w)
        st["wakeups"] = keep
        self.set_state(st)
        return removed

    # host side
    def poll(self, height: int, time_ms: int) -> int:
        st = self.get_state()
        st["height"] = int(height)
        st["time"] = max(int(time_ms), st["time"])
        due = [w for w in st["wakeups"] if w[0] <= st["time"]]
        st["wakeups"] = [w for w in st["wakeups"] if w[0] > st["time"]]
        self.set_state(st)
        for _when, _wid, handler in due:
            self.kernel.queue_to_kref(handler, "wake", [st["time"]])
            self.release(handler)
        return len(due)
