# aioref-example: s001_stop_after_run_forever
# seed: 001_ddf09dabbc2a715f.txt, section "5. run_until_complete 和 run_forever", block 16
# shows: loop.stop() placed after run_forever() is never reached: the loop idles forever
# changes: prepended `import asyncio` and `loop = asyncio.get_event_loop()` (from block 14 of the same section)
# fails-by-design: idle-forever by design

import asyncio

loop = asyncio.get_event_loop()
loop.run_forever()
loop.stop()
