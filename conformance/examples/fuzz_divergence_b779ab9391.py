# aioref-example: fuzz_divergence_b779ab9391
# seed: tools/fuzz, section "divergence-b779ab9391"
# source: conformance/fuzz_cases/divergence-b779ab9391
# shows: a loop divergence found by tools/fuzz: uvloop on 3.11.2
# changes: none by hand: shrunk by tools/fuzz from seed 5021 (generator revision 1)

import asyncio


async def c1():
    try:
        print('c1: await c2()', '->', await c2())
    except asyncio.CancelledError as error:
        print('c1: await c2()', 'cancelled', error.args)
    except Exception as error:
        print('c1: await c2()', 'raised', type(error).__name__, error)
    return 'c1'


async def c2():
    await asyncio.sleep(0)
    return 'c2'


async def main():
    t0 = asyncio.create_task(c1())


asyncio.run(main())
