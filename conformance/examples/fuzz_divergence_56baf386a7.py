# aioref-example: fuzz_divergence_56baf386a7
# seed: tools/fuzz, section "divergence-56baf386a7"
# source: conformance/fuzz_cases/divergence-56baf386a7
# shows: a loop divergence found by tools/fuzz: native on 3.13.0, native on 3.8.18
# changes: none by hand: shrunk by tools/fuzz from seed 0 (generator revision 1)

import asyncio
import time

queue = None  # made in main, on the running loop


def note(text):
    print('callback', text)


async def c0():
    loop = asyncio.get_running_loop()
    print('c0: step 0')
    try:
        print('c0: loop.run_in_executor(None, time.sleep, 1)', '->', await loop.run_in_executor(None, time.sleep, 1))
    except asyncio.CancelledError as error:
        print('c0: loop.run_in_executor(None, time.sleep, 1)', 'cancelled', error.args)
        raise
    except Exception as error:
        print('c0: loop.run_in_executor(None, time.sleep, 1)', 'raised', type(error).__name__, error)
    t0 = asyncio.create_task(c2())
    try:
        print('c0: loop.run_in_executor(None, time.sleep, 0.3)', '->', await loop.run_in_executor(None, time.sleep, 0.3))
    except asyncio.CancelledError as error:
        print('c0: loop.run_in_executor(None, time.sleep, 0.3)', 'cancelled', error.args)
        raise
    except Exception as error:
        print('c0: loop.run_in_executor(None, time.sleep, 0.3)', 'raised', type(error).__name__, error)
    return 'c0'


async def c1():
    try:
        print('c1: await c3()', '->', await c3())
    except asyncio.CancelledError as error:
        print('c1: await c3()', 'cancelled', error.args)
        raise
    except Exception as error:
        print('c1: await c3()', 'raised', type(error).__name__, error)
    print('c1: step 0')
    return 'c1'


async def c2():
    c3()  # never awaited
    await asyncio.sleep(0)
    try:
        print('c2: asyncio.wait_for(queue.get(), 0.2)', '->', await asyncio.wait_for(queue.get(), 0.2))
    except asyncio.CancelledError as error:
        print('c2: asyncio.wait_for(queue.get(), 0.2)', 'cancelled', error.args)
        raise
    except Exception as error:
        print('c2: asyncio.wait_for(queue.get(), 0.2)', 'raised', type(error).__name__, error)
    try:
        print('c2: await c3()', '->', await c3())
    except asyncio.CancelledError as error:
        print('c2: await c3()', 'cancelled', error.args)
        raise
    except Exception as error:
        print('c2: await c3()', 'raised', type(error).__name__, error)
    try:
        print('c2: await c3()', '->', await c3())
    except asyncio.CancelledError as error:
        print('c2: await c3()', 'cancelled', error.args)
    except Exception as error:
        print('c2: await c3()', 'raised', type(error).__name__, error)
    return 'c2'


async def c3():
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    print('c3: step 0')
    h0 = loop.call_at(loop.time() + 0, note, 'c3 h0')
    h1 = loop.call_later(0.1, note, 'c3 h1')
    try:
        await asyncio.sleep(0.1)
    except asyncio.CancelledError as error:
        print('c3: caught', error.args)
    return 'c3'


async def main():
    global queue
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    print('main: step 0')
    c3()  # never awaited
    print('main: step 1')
    try:
        print('main: await c0()', '->', await c0())
    except asyncio.CancelledError as error:
        print('main: await c0()', 'cancelled', error.args)
    except Exception as error:
        print('main: await c0()', 'raised', type(error).__name__, error)
    h0 = loop.call_at(loop.time() + 0.1, note, 'main h0')
    try:
        print('main: asyncio.gather(c2(), c3(), c0())', '->', await asyncio.gather(c2(), c3(), c0()))
    except asyncio.CancelledError as error:
        print('main: asyncio.gather(c2(), c3(), c0())', 'cancelled', error.args)
        raise
    except Exception as error:
        print('main: asyncio.gather(c2(), c3(), c0())', 'raised', type(error).__name__, error)
    try:
        print('main: await c2()', '->', await c2())
    except asyncio.CancelledError as error:
        print('main: await c2()', 'cancelled', error.args)
        raise
    except Exception as error:
        print('main: await c2()', 'raised', type(error).__name__, error)


asyncio.run(main())
