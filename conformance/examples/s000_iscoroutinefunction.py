# aioref-example: s000_iscoroutinefunction
# seed: 000_febe4d065c985002.txt, section "异步函数", block 4
# shows: asyncio.iscoroutinefunction() is True for an async def function
# changes: converted the IPython session (In [36]/In [37] prompts, continuation dots and the echoed True) to a script; added `import asyncio`

import asyncio

async def do_work():
    pass

print(asyncio.iscoroutinefunction(do_work))
