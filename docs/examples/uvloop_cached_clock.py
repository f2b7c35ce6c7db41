# A case for `tools/conform --compare` (docs/uvloop.md): uvloop's clock is libuv's cached
# uv_now(), read at the start of a loop iteration, so work done between creating the loop and
# running it does not move loop.time(), and call_later counts from that stale time.
import asyncio
import time

loop = asyncio.new_event_loop()
before = loop.time()
time.sleep(0.3)  # work between creating the loop and running it
print("loop.time() moved by", round(loop.time() - before, 1))
loop.call_later(0.1, print, "call_later(0.1)")
loop.call_soon(print, "call_soon")
loop.call_later(0.2, loop.stop)
loop.run_forever()
loop.close()
