# aioref-example: s001_iscoroutinefunction
# seed: 001_ddf09dabbc2a715f.txt, section "1. 定义协程", blocks 0-1
# shows: asyncio.iscoroutinefunction() is True for an async def function
# changes: joined block 0 (the definition) and block 1; added `import asyncio`; replaced the non-breaking spaces (U+00A0, a SyntaxError) of the web page with ordinary spaces

import asyncio

async def do_some_work(x): pass
print(asyncio.iscoroutinefunction(do_some_work)) # True
