#include "runtime/asyncio/frames.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/version.h"

namespace aio {
namespace detail {

bool g_frames_in_use = false;

bool cells_cleared_last() { return has(Behaviour::kComprehensionCells); }

bool kept_frames_keep_callers() { return has(Behaviour::kKeptFrameKeepsItsCallers); }

namespace {
thread_local std::vector<std::weak_ptr<FrameLocalsBase>> t_kept_frames;
thread_local std::vector<std::weak_ptr<FrameLocalsBase>> t_unreached_frames;
thread_local std::shared_ptr<FrameLocalsBase> t_driving_frame;

struct CollectedLog {
  std::uint64_t order;
  bool pending;  // a pending task's (its log, what closing its coroutine writes): first
  std::function<void()> log;
};
thread_local int t_collection_depth = 0;
thread_local std::uint64_t t_finalizing_task = 0;  // 0: none (tasks are numbered from 1)
thread_local std::vector<CollectedLog> t_collected_logs;
}  // namespace

Collection::Collection() { ++t_collection_depth; }

Collection::~Collection() {
  if (--t_collection_depth > 0) return;
  std::vector<CollectedLog> logs = std::move(t_collected_logs);
  t_collected_logs.clear();
  std::stable_sort(logs.begin(), logs.end(), [](const CollectedLog& a, const CollectedLog& b) {
    if (a.pending != b.pending) return a.pending;
    return a.order < b.order;
  });
  for (CollectedLog& l : logs) l.log();
}

bool collecting() { return t_collection_depth > 0; }

void defer_collected_log(std::uint64_t order, bool pending, std::function<void()> log) {
  t_collected_logs.push_back(CollectedLog{order, pending, std::move(log)});
}

FinalizingTask::FinalizingTask(std::uint64_t order)
    : previous_(std::exchange(t_finalizing_task, order)) {}
FinalizingTask::~FinalizingTask() { t_finalizing_task = previous_; }

std::uint64_t finalizing_task() { return t_collection_depth > 0 ? t_finalizing_task : 0; }

bool defer_to_finalizing_task(std::function<void()> write) {
  if (t_collection_depth == 0 || t_finalizing_task == 0) return false;
  defer_collected_log(t_finalizing_task, true, std::move(write));
  return true;
}

void traceback_add(const std::exception_ptr& e, const std::shared_ptr<FrameLocalsBase>& locals) {
  if (!e || !locals) return;
  if (BaseException* b = base_exception(e)) b->traceback_add(locals);
}

std::size_t traceback_length(const std::exception_ptr& e) {
  if (!e) return 0;
  BaseException* b = base_exception(e);
  return b ? b->traceback_length() : 0;
}

void traceback_reset(const std::exception_ptr& e, std::size_t length) {
  if (!e || !has(Behaviour::kFutureResultResetsTraceback)) return;
  if (BaseException* b = base_exception(e)) b->traceback_truncate(length);
}

void traceback_add_running_frame(const std::exception_ptr& e) {
  const std::shared_ptr<FrameLocalsBase>* locals = running_traceback_locals();
  if (locals) traceback_add(e, *locals);
}

void keep_frame(const std::shared_ptr<FrameLocalsBase>& locals,
                const std::shared_ptr<FrameLocalsBase>* caller) {
  std::vector<std::weak_ptr<FrameLocalsBase>>& kept = t_kept_frames;
  if (kept.size() >= 64 && kept.size() == kept.capacity()) {  // drop the freed ones first
    std::erase_if(kept, [](const auto& w) { return w.expired(); });
  }
  kept.push_back(locals);
  if (caller && *caller && *caller != locals && has(Behaviour::kKeptFrameKeepsItsCallers)) {
    locals->f_back = *caller;
  } else if (t_driving_frame && t_driving_frame != locals) {
    locals->f_back = t_driving_frame;
    t_driving_frame->linked = true;
  }
}

void exception_kept_task_frame() {
  if (t_driving_frame) t_driving_frame->linked = true;
}

DrivingFrame::DrivingFrame(std::shared_ptr<FrameLocalsBase> locals)
    : previous_(std::exchange(t_driving_frame, std::move(locals))) {}
DrivingFrame::~DrivingFrame() { t_driving_frame = std::move(previous_); }

void keep_frame_unreached(const std::shared_ptr<FrameLocalsBase>& locals) {
  t_unreached_frames.push_back(locals);
}

void gc_collect_unreached_frames() {
  if (t_unreached_frames.empty()) return;
  Collection collection;
  std::vector<std::weak_ptr<FrameLocalsBase>> unreached = std::move(t_unreached_frames);
  t_unreached_frames.clear();
  for (const auto& w : unreached) {
    if (std::shared_ptr<FrameLocalsBase> frame = w.lock()) frame->clear();
  }
}

}  // namespace detail

void gc_collect_kept_frames() { gc_collect_kept_frames({}); }

void gc_collect_kept_frames(const std::vector<std::shared_ptr<detail::FrameLocalsBase>>& spared) {
  detail::Collection collection;
  std::vector<std::weak_ptr<detail::FrameLocalsBase>> kept = std::move(detail::t_kept_frames);
  detail::t_kept_frames.clear();
  for (const auto& w : kept) {
    std::shared_ptr<detail::FrameLocalsBase> frame = w.lock();
    if (frame && std::find(spared.begin(), spared.end(), frame) == spared.end()) frame->clear();
  }
}

}  // namespace aio
