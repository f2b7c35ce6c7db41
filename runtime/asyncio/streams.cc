#include "runtime/asyncio/streams.h"

#include <algorithm>

#include "runtime/pylang/warnings.h"

namespace aio {

// ---------------------------------------------------------------------------------------------
// ByteBuffer

namespace detail {

void ByteBuffer::extend(std::string_view d) {
  if (head_ > 0 && head_ >= data_.size() / 2) {  // compact before growing
    data_.erase(0, head_);
    head_ = 0;
  }
  data_.append(d);
}

Bytes ByteBuffer::take(std::size_t n) {
  n = std::min(n, size());
  Bytes out(std::string_view(data_).substr(head_, n));
  head_ += n;
  if (head_ == data_.size()) clear();
  return out;
}

// ---------------------------------------------------------------------------------------------
// StreamReader state

class StreamReaderImpl {
 public:
  StreamReaderImpl(std::size_t limit, Loop loop) : limit(limit), loop(std::move(loop)) {}

  void wakeup_waiter() {
    if (waiter) {
      Future<void> w = std::move(*waiter);
      waiter.reset();
      if (!w.cancelled()) w.set_result();
    }
  }
  void maybe_resume_transport() {
    if (paused && buffer.size() <= limit) {
      paused = false;
      transport->resume_reading();
    }
  }

  std::size_t limit;
  Loop loop;
  ByteBuffer buffer;
  bool eof = false;
  std::optional<Future<void>> waiter;
  std::exception_ptr exception;
  TransportPtr transport;
  bool paused = false;
};

}  // namespace detail

namespace {
using detail::StreamReaderImpl;

// StreamReader._wait_for_data(func_name)
Co<void> wait_for_data(std::shared_ptr<StreamReaderImpl> self, const char* func_name,
                       Def = Def("StreamReader._wait_for_data", "streams.py")) {
  if (self->waiter) {
    throw RuntimeError(std::string(func_name) +
                       "() called while another coroutine is already waiting for incoming data");
  }
  if (self->eof) throw AssertionError("_wait_for_data after EOF");
  // Waiting for data while paused would deadlock (readexactly(n) with n > limit).
  if (self->paused) {
    self->paused = false;
    self->transport->resume_reading();
  }
  Future<void> waiter = self->loop->create_future<void>();
  self->waiter = waiter;
  try {
    co_await waiter;
  } catch (...) {
    self->waiter.reset();
    throw;
  }
  self->waiter.reset();
}

Co<Bytes> read_co(std::shared_ptr<StreamReaderImpl> self, std::ptrdiff_t n,
                  Def = Def("StreamReader.read", "streams.py")) {
  if (self->exception) std::rethrow_exception(self->exception);
  if (n == 0) co_return Bytes();
  if (n < 0) {
    // Read limit-sized blocks until EOF (waiting for everything at once would deadlock a
    // paused transport).
    Bytes blocks;
    while (true) {
      Bytes block = co_await read_co(self, static_cast<std::ptrdiff_t>(self->limit));
      if (block.empty()) break;
      blocks += block;
    }
    co_return blocks;
  }
  if (self->buffer.empty() && !self->eof) co_await wait_for_data(self, "read");
  Bytes data = self->buffer.take(static_cast<std::size_t>(n));
  self->maybe_resume_transport();
  co_return data;
}

Co<Bytes> readuntil_co(std::shared_ptr<StreamReaderImpl> self, std::vector<Bytes> separator,
                       Def = Def("StreamReader.readuntil", "streams.py")) {
  // Makes sure the shortest match wins.
  std::stable_sort(separator.begin(), separator.end(),
                   [](const Bytes& a, const Bytes& b) { return a.size() < b.size(); });
  if (separator.empty()) throw ValueError("Separator should contain at least one element");
  std::size_t min_seplen = separator.front().size();
  std::size_t max_seplen = separator.back().size();
  if (min_seplen == 0) throw ValueError("Separator should be at least one-byte string");
  if (self->exception) std::rethrow_exception(self->exception);

  std::size_t offset = 0;
  std::size_t match_start = 0, match_end = 0;
  bool found = false;
  while (true) {
    std::size_t buflen = self->buffer.size();
    if (buflen - std::min(buflen, offset) >= min_seplen && buflen >= offset) {
      for (const Bytes& sep : separator) {
        std::size_t isep = self->buffer.find(sep, offset);
        if (isep != std::string_view::npos) {
          std::size_t end = isep + sep.size();
          if (!found || end < match_end) {
            found = true;
            match_end = end;
            match_start = isep;
          }
        }
      }
      if (found) break;
      offset = buflen + 1 > max_seplen ? buflen + 1 - max_seplen : 0;
      if (offset > self->limit) {
        throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
      }
    }
    // A complete message may be in the buffer even at EOF: check EOF after the buffer.
    if (self->eof) {
      Bytes chunk = self->buffer.take(self->buffer.size());
      throw IncompleteReadError(std::move(chunk), std::nullopt);
    }
    co_await wait_for_data(self, "readuntil");
  }
  if (match_start > self->limit) {
    throw LimitOverrunError("Separator is found, but chunk is longer than limit", match_start);
  }
  Bytes chunk = self->buffer.take(match_end);
  self->maybe_resume_transport();
  co_return chunk;
}

Co<Bytes> readline_co(std::shared_ptr<StreamReaderImpl> self,
                      Def = Def("StreamReader.readline", "streams.py")) {
  std::vector<Bytes> sep;
  sep.emplace_back("\n");
  std::optional<Bytes> partial;
  std::optional<std::size_t> consumed;
  std::string message;
  try {
    Bytes line = co_await readuntil_co(self, std::move(sep));
    co_return line;
  } catch (const IncompleteReadError& e) {
    partial = e.partial;
  } catch (const LimitOverrunError& e) {
    consumed = e.consumed;
    message = e.str();
  }
  if (partial) co_return std::move(*partial);
  std::string_view rest = self->buffer.view();
  if (*consumed < rest.size() && rest[*consumed] == '\n') {
    self->buffer.take(*consumed + 1);
  } else {
    self->buffer.clear();
  }
  self->maybe_resume_transport();
  throw ValueError(message);
}

Co<Bytes> readexactly_co(std::shared_ptr<StreamReaderImpl> self, std::ptrdiff_t n,
                         Def = Def("StreamReader.readexactly", "streams.py")) {
  if (n < 0) throw ValueError("readexactly size can not be less than zero");
  if (self->exception) std::rethrow_exception(self->exception);
  if (n == 0) co_return Bytes();
  auto want = static_cast<std::size_t>(n);
  while (self->buffer.size() < want) {
    if (self->eof) {
      Bytes incomplete = self->buffer.take(self->buffer.size());
      throw IncompleteReadError(std::move(incomplete), want);
    }
    co_await wait_for_data(self, "readexactly");
  }
  Bytes data = self->buffer.take(want);
  self->maybe_resume_transport();
  co_return data;
}
}  // namespace

StreamReader::StreamReader(std::ptrdiff_t limit, Loop loop) {
  // The line length limit is a security feature; it also doubles as half the buffer limit.
  if (limit <= 0) throw ValueError("Limit cannot be <= 0");
  if (!loop) loop = get_event_loop();
  impl_ = std::make_shared<StreamReaderImpl>(static_cast<std::size_t>(limit), std::move(loop));
}

std::exception_ptr StreamReader::exception() const { return impl_->exception; }

void StreamReader::set_exception(std::exception_ptr exc) const {
  impl_->exception = exc;
  if (impl_->waiter) {
    Future<void> w = std::move(*impl_->waiter);
    impl_->waiter.reset();
    if (!w.cancelled()) w.set_exception(exc);
  }
}

void StreamReader::set_transport(TransportPtr transport) const {
  if (impl_->transport) throw AssertionError("Transport already set");
  impl_->transport = std::move(transport);
}

void StreamReader::feed_eof() const {
  impl_->eof = true;
  impl_->wakeup_waiter();
}

bool StreamReader::at_eof() const { return impl_->eof && impl_->buffer.empty(); }

void StreamReader::feed_data(std::string_view data) const {
  StreamReaderImpl& s = *impl_;
  if (s.eof) throw AssertionError("feed_data after feed_eof");
  if (data.empty()) return;
  s.buffer.extend(data);
  s.wakeup_waiter();
  if (s.transport && !s.paused && s.buffer.size() > 2 * s.limit) {
    try {
      s.transport->pause_reading();
      s.paused = true;
    } catch (const NotImplementedError&) {
      // The transport can't be paused: buffer everything; forget the transport.
      s.transport.reset();
    }
  }
}

Co<Bytes> StreamReader::read(std::ptrdiff_t n) const { return read_co(impl_, n); }
Co<Bytes> StreamReader::readline() const { return readline_co(impl_); }
Co<Bytes> StreamReader::readuntil(Bytes separator) const {
  return readuntil_co(impl_, {std::move(separator)});
}
namespace {
// readuntil(tuple) before 3.13: the tuple is taken for one separator of len(tuple) bytes, which
// bytearray.find() rejects once the buffer is long enough to look.
Co<Bytes> readuntil_tuple_legacy(std::shared_ptr<StreamReaderImpl> self, std::size_t seplen,
                                 Def = Def("StreamReader.readuntil", "streams.py")) {
  if (seplen == 0) throw ValueError("Separator should be at least one-byte string");
  if (self->exception) std::rethrow_exception(self->exception);
  while (true) {
    if (self->buffer.size() >= seplen) {
      throw TypeError("argument should be integer or bytes-like object, not 'tuple'");
    }
    if (self->eof) {
      Bytes chunk = self->buffer.take(self->buffer.size());
      throw IncompleteReadError(std::move(chunk), std::nullopt);
    }
    co_await wait_for_data(self, "readuntil");
  }
}
}  // namespace

Co<Bytes> StreamReader::readuntil(std::vector<Bytes> separators) const {
  if (!impl_->loop->has(Behaviour::kReaduntilSeparatorTuple)) {
    return readuntil_tuple_legacy(impl_, separators.size());
  }
  return readuntil_co(impl_, std::move(separators));
}
Co<Bytes> StreamReader::readexactly(std::ptrdiff_t n) const { return readexactly_co(impl_, n); }

std::size_t StreamReader::limit() const { return impl_->limit; }
std::size_t StreamReader::buffered() const { return impl_->buffer.size(); }

std::string StreamReader::repr() const {
  const StreamReaderImpl& s = *impl_;
  std::string info = "<StreamReader";
  if (!s.buffer.empty()) info += " " + std::to_string(s.buffer.size()) + " bytes";
  if (s.eof) info += " eof";
  if (s.limit != kDefaultLimit) info += " limit=" + std::to_string(s.limit);
  if (s.waiter) info += " waiter=" + s.waiter->repr();
  if (s.exception) info += " exception=" + exception_repr(s.exception);
  if (s.transport) info += " transport=" + s.transport->repr();
  if (s.paused) info += " paused";
  return info + ">";
}

// ---------------------------------------------------------------------------------------------
// StreamWriter

namespace detail {
class StreamWriterImpl {
 public:
  StreamWriterImpl(TransportPtr transport, std::shared_ptr<StreamReaderProtocol> protocol,
                   std::optional<StreamReader> reader, Loop loop)
      : transport(std::move(transport)),
        protocol(std::move(protocol)),
        reader(std::move(reader)),
        loop(std::move(loop)) {}
  ~StreamWriterImpl() {
    // 3.11+ StreamWriter.__del__: close a transport left open (the ResourceWarning, "unclosed
    // <StreamWriter ...>" or "loop is closed", is not shown by the default filters).
    if (loop->has(Behaviour::kStreamWriterDelCloses) && !transport->is_closing() &&
        !loop->is_closed()) {
      try {
        transport->close();
      } catch (...) {
      }
    }
  }
  TransportPtr transport;
  std::shared_ptr<StreamReaderProtocol> protocol;
  std::optional<StreamReader> reader;
  Loop loop;
};
}  // namespace detail

StreamWriter::StreamWriter(TransportPtr transport, std::shared_ptr<StreamReaderProtocol> protocol,
                           std::optional<StreamReader> reader, Loop loop)
    : impl_(std::make_shared<detail::StreamWriterImpl>(std::move(transport), std::move(protocol),
                                                       std::move(reader), std::move(loop))) {}

const TransportPtr& StreamWriter::transport() const { return impl_->transport; }
void StreamWriter::write(std::string_view data) const { impl_->transport->write(data); }
void StreamWriter::writelines(const std::vector<Bytes>& data) const {
  impl_->transport->writelines(data);
}
void StreamWriter::write_eof() const { impl_->transport->write_eof(); }
bool StreamWriter::can_write_eof() const { return impl_->transport->can_write_eof(); }
void StreamWriter::close() const { impl_->transport->close(); }
bool StreamWriter::is_closing() const { return impl_->transport->is_closing(); }
ExtraInfo StreamWriter::get_extra_info(std::string_view name, ExtraInfo default_value) const {
  return impl_->transport->get_extra_info(name, std::move(default_value));
}

std::string StreamWriter::repr() const {
  std::string info = "<StreamWriter transport=" + impl_->transport->repr();
  if (impl_->reader) info += " reader=" + impl_->reader->repr();
  return info + ">";
}

namespace {
Co<void> drain_co(std::shared_ptr<detail::StreamWriterImpl> self,
                  Def = Def("StreamWriter.drain", "streams.py")) {
  if (self->reader) {
    std::exception_ptr exc = self->reader->exception();
    if (exc) std::rethrow_exception(exc);
  }
  if (self->transport->is_closing()) {
    // Yield so that connection_lost() may run: write(); await drain() in a loop would
    // otherwise never see the connection closed.
    co_await sleep(0);
  }
  co_await self->protocol->drain_helper();
}

Co<void> wait_closed_co(std::shared_ptr<detail::StreamWriterImpl> self,
                        Def = Def("StreamWriter.wait_closed", "streams.py")) {
  co_await self->protocol->get_close_waiter();
}
}  // namespace

Co<void> StreamWriter::drain() const { return drain_co(impl_); }
Co<void> StreamWriter::wait_closed() const { return wait_closed_co(impl_); }

// ---------------------------------------------------------------------------------------------
// StreamReaderProtocol

StreamReaderProtocol::StreamReaderProtocol(std::optional<StreamReader> stream_reader,
                                           ClientConnectedCb client_connected_cb, Loop loop)
    : loop_(loop ? std::move(loop) : get_event_loop()),
      client_connected_cb_(std::move(client_connected_cb)) {
  if (stream_reader) {
    stream_reader_wr_ = stream_reader->impl();
    has_stream_reader_ = true;
    // A server's stream: keep the reader until the connection is made.
    if (client_connected_cb_) strong_reader_ = stream_reader->impl();
  }
  closed_ = loop_->create_future<void>();
}

StreamReaderProtocol::~StreamReaderProtocol() {
  // Prevent reports about unhandled exceptions (the close waiter nobody awaited).
  if (closed_ && closed_.done() && !closed_.cancelled()) closed_.exception();
}

std::optional<StreamReader> StreamReaderProtocol::stream_reader() const {
  if (!has_stream_reader_) return std::nullopt;
  if (auto impl = stream_reader_wr_.lock()) return StreamReader(std::move(impl));
  return std::nullopt;
}

void StreamReaderProtocol::connection_made(TransportPtr transport) {
  transport_ = transport;
  std::optional<StreamReader> reader = stream_reader();
  if (reader) reader->set_transport(transport);
  if (client_connected_cb_) {
    StreamWriter writer(transport, shared_from_this(), reader, loop_);
    if (loop_->has(Behaviour::kStreamProtocolHoldsWriter)) stream_writer_ = writer;
    std::optional<Co<void>> res = client_connected_cb_(
        reader ? *reader : StreamReader(std::shared_ptr<StreamReaderImpl>()), std::move(writer));
    if (res) {
      Task<void> task = loop_->create_task(std::move(*res));
      handler_task_ = task.shared_task();
      if (loop_->has(Behaviour::kStreamProtocolKeepsTask)) task_ = AnyTask(task);
      if (loop_->has(Behaviour::kClientConnectedCbErrorsLogged)) {
        EventLoop* loop = loop_.get();
        TransportPtr t = transport;
        task.add_done_callback(
            [loop, t](Future<void> fut) {
              if (fut.cancelled() && loop->has(Behaviour::kClientConnectedCbCancelCloses)) {
                t->close();
                return;
              }
              std::exception_ptr exc = fut.exception();  // 3.11/3.12: raises if cancelled
              if (exc) {
                ExceptionContext ctx;
                ctx.message = "Unhandled exception in client_connected_cb";
                ctx.exception = exc;
                ctx.extra.emplace_back("transport", t->repr());
                loop->call_exception_handler(ctx);
                t->close();
              }
            },
            "StreamReaderProtocol.connection_made.<locals>.callback");
      }
    }
    strong_reader_.reset();
  }
}

void StreamReaderProtocol::connection_lost(std::exception_ptr exc) {
  auto self = shared_from_this();
  std::optional<StreamReader> reader = stream_reader();
  if (reader) {
    if (!exc) {
      reader->feed_eof();
    } else {
      reader->set_exception(exc);
    }
  }
  if (!closed_.done()) {
    if (!exc) {
      closed_.set_result();
    } else {
      closed_.set_exception(exc);
    }
  }
  // FlowControlMixin.connection_lost: wake up the writer(s) if currently paused.
  connection_lost_ = true;
  if (paused_) {
    std::deque<Future<void>> waiters;
    if (loop_->has(Behaviour::kStreamDrainWaiters)) {
      waiters = drain_waiters_;
    } else {
      waiters.swap(drain_waiters_);  // self._drain_waiter = None
    }
    for (auto& waiter : waiters) {
      if (!waiter.done()) {
        if (!exc) {
          waiter.set_result();
        } else {
          waiter.set_exception(exc);
        }
      }
    }
  }
  stream_reader_wr_.reset();
  has_stream_reader_ = false;
  stream_writer_ = StreamWriter();
  task_ = AnyTask();
  transport_.reset();
  release_callback_after_handler();
}

void StreamReaderProtocol::release_callback_after_handler() {
  std::shared_ptr<TaskBase> handler = handler_task_.lock();
  if (!handler || handler->done()) client_connected_cb_ = nullptr;
}

void StreamReaderProtocol::collect() {
  stream_writer_ = StreamWriter();
  task_ = AnyTask();
  transport_.reset();
  strong_reader_.reset();
  release_callback_after_handler();
}

void StreamReaderProtocol::data_received_view(std::string_view data) {
  if (auto impl = stream_reader_wr_.lock()) StreamReader(std::move(impl)).feed_data(data);
}

bool StreamReaderProtocol::eof_received() {
  if (auto impl = stream_reader_wr_.lock()) StreamReader(std::move(impl)).feed_eof();
  return true;  // keep the transport open for writing (not over SSL)
}

void StreamReaderProtocol::pause_writing() {
  if (paused_) throw AssertionError();
  paused_ = true;
}

void StreamReaderProtocol::resume_writing() {
  if (!paused_) throw AssertionError();
  paused_ = false;
  std::deque<Future<void>> waiters;
  if (loop_->has(Behaviour::kStreamDrainWaiters)) {
    waiters = drain_waiters_;
  } else {
    waiters.swap(drain_waiters_);  // self._drain_waiter = None
  }
  for (auto& waiter : waiters) {
    if (!waiter.done()) waiter.set_result();
  }
}

Co<void> StreamReaderProtocol::drain_helper_impl(std::shared_ptr<StreamReaderProtocol> self, Def) {
  if (self->connection_lost_) throw ConnectionResetError("Connection lost");
  if (!self->paused_) co_return;
  std::deque<Future<void>>& waiters = self->drain_waiters_;
  if (!self->loop_->has(Behaviour::kStreamDrainWaiters)) {
    // 3.8/3.9: one waiter (self._drain_waiter): assert waiter is None or waiter.cancelled()
    if (!waiters.empty() && !waiters.front().cancelled()) throw AssertionError();
    waiters.clear();
    Future<void> waiter = self->loop_->create_future<void>();
    waiters.push_back(waiter);
    co_await waiter;
    co_return;
  }
  Future<void> waiter = self->loop_->create_future<void>();
  waiters.push_back(waiter);
  auto remove = [&waiters, &waiter] {
    auto it = std::find(waiters.begin(), waiters.end(), waiter);
    if (it != waiters.end()) waiters.erase(it);
  };
  try {
    co_await waiter;
  } catch (...) {
    remove();
    throw;
  }
  remove();
}

Co<void> StreamReaderProtocol::drain_helper() { return drain_helper_impl(shared_from_this()); }

// ---------------------------------------------------------------------------------------------
// open_connection / start_server

namespace {
constexpr const char* kLoopArgDeprecated =
    "The loop argument is deprecated since Python 3.8, and scheduled for removal in Python "
    "3.10.";
}

Co<std::pair<StreamReader, StreamWriter>> open_connection(std::optional<std::string> host,
                                                          std::optional<int> port,
                                                          ConnectionOptions options,
                                                          std::size_t limit, Def) {
  Loop loop;
  if (options.loop && has(Behaviour::kStreamsLoopArgDeprecated, options.loop->version())) {
    loop = std::move(options.loop);
    options.loop = nullptr;
    // warnings.warn(..., DeprecationWarning, stacklevel=2): shown when the caller is the
    // script (the default filters show DeprecationWarning in __main__ only).
    if (detail::caller_is_script(co_await detail::ThisPromise{})) {
      warn("DeprecationWarning", kLoopArgDeprecated);
    }
  } else {
    loop = get_running_loop();  // 3.8/3.9: get_event_loop(), the same inside a coroutine
  }
  StreamReader reader(static_cast<std::ptrdiff_t>(limit), loop);
  auto protocol = std::make_shared<StreamReaderProtocol>(reader, nullptr, loop);
  // (Named, not temporaries of the co_await: GCC 12 destroys those twice when it throws.)
  ProtocolFactory factory = [protocol]() -> ProtocolPtr { return protocol; };
  Co<std::pair<TransportPtr, ProtocolPtr>> connect =
      loop->create_connection(std::move(factory), std::move(host), port, std::move(options));
  std::pair<TransportPtr, ProtocolPtr> connected = co_await std::move(connect);
  StreamWriter writer(connected.first, protocol, reader, loop);
  co_return std::make_pair(std::move(reader), std::move(writer));
}

namespace detail {
Co<Server> start_server_co(ClientConnectedCb cb, std::optional<std::string> host,
                           std::optional<int> port, ServerOptions options, std::size_t limit, Def) {
  Loop loop;
  if (options.loop && has(Behaviour::kStreamsLoopArgDeprecated, options.loop->version())) {
    loop = std::move(options.loop);
    options.loop = nullptr;
    if (detail::caller_is_script(co_await detail::ThisPromise{})) {
      warn("DeprecationWarning", kLoopArgDeprecated);
    }
  } else {
    loop = get_running_loop();
  }
  auto shared_cb = std::make_shared<ClientConnectedCb>(std::move(cb));
  EventLoop* lp = loop.get();
  ProtocolFactory factory = [shared_cb, limit, lp]() -> ProtocolPtr {
    Loop l = lp->shared_from_this();
    StreamReader reader(static_cast<std::ptrdiff_t>(limit), l);
    return std::make_shared<StreamReaderProtocol>(reader, *shared_cb, l);
  };
  Co<Server> create =
      loop->create_server(std::move(factory), std::move(host), port, std::move(options));
  co_return co_await std::move(create);
}
}  // namespace detail

}  // namespace aio
