// Port of conformance/examples/s003_task_cancel.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// async def child():
aio::Co<std::string> child(aio::Def = "child") {
  aio::print("进入子协程");
  co_return "the result";
}

// async def main(loop):
aio::Co<void> main_(aio::Loop loop, aio::Def = "main") {
  aio::print("将协程child包装成任务");
  aio::Task<std::string> task = loop->create_task(child());
  aio::print("通过cancel方法可以取消任务");
  task.cancel();
  try {
    co_await task;
  } catch (const aio::CancelledError&) {
    aio::print("取消任务抛出CancelledError异常");
    co_return;
  }
  // else:
  aio::print("获取任务的结果", task.result());
}

}  // namespace

AIOREF_PORT(s003_task_cancel) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_(loop)); }, [&] { loop->close(); });
}
