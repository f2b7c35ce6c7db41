"""A loop of one's own: asyncio's selector loop that counts what it schedules (callbacks and
timers), the kind of instrumented loop whose author wants to know it still behaves as
asyncio does."""

import asyncio


class CountingLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__()
        self.scheduled = 0

    def call_soon(self, callback, *args, **kwargs):
        self.scheduled += 1
        return super().call_soon(callback, *args, **kwargs)

    def call_at(self, when, callback, *args, **kwargs):
        self.scheduled += 1
        return super().call_at(when, callback, *args, **kwargs)


def new_loop():
    return CountingLoop()


class HurriedLoop(CountingLoop):
    """CountingLoop with a bug: its timers fire at half their delay."""

    def call_later(self, delay, callback, *args, **kwargs):
        return super().call_later(delay / 2, callback, *args, **kwargs)


def new_hurried_loop():
    return HurriedLoop()
