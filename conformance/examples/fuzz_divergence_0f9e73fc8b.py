# aioref-example: fuzz_divergence_0f9e73fc8b
# seed: tools/fuzz, section "divergence-0f9e73fc8b"
# source: conformance/fuzz_cases/divergence-0f9e73fc8b
# shows: a loop divergence found by tools/fuzz: uvloop on 3.11.2
# changes: none by hand: shrunk by tools/fuzz from seed 5015 (generator revision 1)

import asyncio


def fail(text):
    raise ValueError(text)


async def c0():
    loop = asyncio.get_running_loop()
    h0 = loop.call_later(0, fail, 'c0 h0')
    return 'c0'


async def main():
    try:
        print('main: asyncio.gather(c0())', '->', await asyncio.gather(c0()))
    except asyncio.CancelledError as error:
        print('main: asyncio.gather(c0())', 'cancelled', error.args)
        raise
    except Exception as error:
        print('main: asyncio.gather(c0())', 'raised', type(error).__name__, error)


asyncio.run(main())
