# A case for `tools/conform --compare` (docs/uvloop.md): when a timer is already due and a
# call_soon callback is ready at the start of a loop iteration, asyncio runs the ready
# callback first (due timers join the ready queue behind it); uvloop runs libuv's timer phase
# first. A callback that takes longer than the timer's delay makes both pending at once.
import asyncio
import time


def work(loop):
    loop.call_later(0.1, print, "timer due at +0.1")
    loop.call_soon(print, "call_soon")
    time.sleep(0.15)  # a slow callback: the timer is due before the next iteration


loop = asyncio.new_event_loop()
loop.call_soon(work, loop)
loop.call_later(0.3, loop.stop)
loop.run_forever()
loop.close()
