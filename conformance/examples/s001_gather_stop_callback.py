# aioref-example: s001_gather_stop_callback
# seed: 001_ddf09dabbc2a715f.txt, section "5. run_until_complete 和 run_forever", block 19
# shows: run_forever stopped by a done callback (functools.partial) on a gather future, after both coroutines finish
# changes: added `import asyncio` and `import functools`; replaced the non-breaking spaces (U+00A0, a SyntaxError) of the web page with ordinary spaces, also the one inside the 'Waiting ' string literal (a page artifact, like the NBSP in the seed's output listings)

import asyncio
import functools

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')

def done_callback(loop, futu):
    loop.stop()

loop = asyncio.get_event_loop()

futus = asyncio.gather(do_some_work(loop, 1), do_some_work(loop, 3))
futus.add_done_callback(functools.partial(done_callback, loop))

loop.run_forever()
