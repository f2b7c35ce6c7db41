// Port of conformance/examples/s002_wait_tasks.py
#include <string>
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x):
aio::Co<std::string> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("等待", x);
  co_await aio::sleep(x);  // 模拟一个等待耗时操作
  co_return aio::format("Done after {}s", x);
}

}  // namespace

// if __name__ == "__main__":
AIOREF_PORT(s002_wait_tasks) {
  // 创建多个协程对象
  aio::Co<std::string> coro1 = do_some_work(1);
  aio::Co<std::string> coro2 = do_some_work(2);
  aio::Co<std::string> coro3 = do_some_work(3);

  // 将协程对象转换为task,并组成一个list
  std::vector<aio::Task<std::string>> tasks = {aio::ensure_future(std::move(coro1)),
                                               aio::ensure_future(std::move(coro2)),
                                               aio::ensure_future(std::move(coro3))};

  // 将task池注册到循环当中
  // 两种方法: asyncio.gather(*tasks)  asyncio.wait(tasks)
  aio::Loop loop = aio::get_event_loop();
  // wait方法直接接收列表作为参数
  loop->run_until_complete(aio::wait(tasks));

  for (auto& task : tasks) aio::print("任务返回的结果是", task.result());
}
