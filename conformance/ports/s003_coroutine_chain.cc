// Port of conformance/examples/s003_coroutine_chain.py
#include <string>
#include <tuple>

#include "conformance/ports/port.h"

namespace {

aio::Co<std::string> result1(aio::Def = "result1");
aio::Co<std::string> result2(std::string arg, aio::Def = "result2");

// async def main():
aio::Co<std::tuple<std::string, std::string>> main_(aio::Def = "main") {
  aio::print("主协程");
  aio::print("等待result1协程运行");
  std::string res1 = co_await result1();
  aio::print("等待result2协程运行");
  std::string res2 = co_await result2(res1);
  co_return std::tuple{res1, res2};
}

// async def result1():
aio::Co<std::string> result1(aio::Def) {
  aio::print("这是result1协程");
  co_return "result1";
}

// async def result2(arg):
aio::Co<std::string> result2(std::string arg, aio::Def) {
  aio::print("这是result2协程");
  co_return aio::format("result2接收了一个参数,{}", arg);
}

}  // namespace

AIOREF_PORT(s003_coroutine_chain) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally(
      [&] {
        auto result = loop->run_until_complete(main_());
        aio::print(aio::format("获取返回值:{}", result));
      },
      [&] {
        aio::print("关闭事件循环");
        loop->close();
      });
}
