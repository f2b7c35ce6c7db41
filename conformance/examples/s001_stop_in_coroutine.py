# aioref-example: s001_stop_in_coroutine
# seed: 001_ddf09dabbc2a715f.txt, section "5. run_until_complete 和 run_forever", blocks 17, 18
# shows: loop.stop() called by a coroutine: the first to finish stops run_forever, the other never finishes (one Done for two Waiting)
# changes: added `import asyncio`; replaced the non-breaking spaces (U+00A0, a SyntaxError) of the web page with ordinary spaces, also the one inside the 'Waiting ' string literal; blocks 17 and 18 are the same definition and give no driver code: appended block 19's (`loop = asyncio.get_event_loop()`, the gather of do_some_work(loop, 1) and do_some_work(loop, 3), `loop.run_forever()`) without its done callback, since that callback is the fix block 19 brings for what blocks 17/18 show

import asyncio

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')
    loop.stop()

loop = asyncio.get_event_loop()

futus = asyncio.gather(do_some_work(loop, 1), do_some_work(loop, 3))

loop.run_forever()
