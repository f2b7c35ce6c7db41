// asyncio.protocols: the callbacks a transport calls. Subclass Protocol (or BufferedProtocol)
// and override what the Python class defines; the defaults do nothing, like CPython's.
//
//   class EchoProtocol : public aio::Protocol {
//    public:
//     void connection_made(aio::TransportPtr transport) override { transport_ = transport; }
//     void data_received(const aio::Bytes& data) override { transport_->write(data); }
//     aio::TransportPtr transport_;
//   };
//
// Protocols are shared objects: a protocol factory returns std::shared_ptr<P>. A transport
// drops its protocol in _call_connection_lost (as CPython sets `self._protocol = None`), which
// breaks the protocol -> transport -> protocol cycle a protocol that keeps its transport makes.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>

#include "runtime/pylang/bytes.h"

namespace aio {

class Transport;
using TransportPtr = std::shared_ptr<Transport>;

class BaseProtocol {
 public:
  virtual ~BaseProtocol() = default;
  virtual void connection_made(TransportPtr /*transport*/) {}
  // exc: nullptr for a regular EOF or close(), else the error (e.g. ConnectionResetError).
  virtual void connection_lost(std::exception_ptr /*exc*/) {}
  virtual void pause_writing() {}
  virtual void resume_writing() {}
  // repr(protocol) in error messages: "<__main__.EchoProtocol object at 0x?>" by default (the
  // C++ class name stands for the Python one). Not named repr(), which would hide aio::repr()
  // inside a protocol's methods.
  virtual std::string protocol_repr() const;
};

class Protocol : public BaseProtocol {
 public:
  virtual void data_received(const Bytes& /*data*/) {}
  // Return true to keep the transport open for writing (half-close); false closes it.
  virtual bool eof_received() { return false; }
};

// asyncio.BufferedProtocol: the transport reads into the protocol's buffer.
class BufferedProtocol : public BaseProtocol {
 public:
  // sizehint -1: any size. Return a writable, non-empty buffer.
  virtual std::span<char> get_buffer(std::ptrdiff_t sizehint) = 0;
  virtual void buffer_updated(std::size_t nbytes) = 0;
  virtual bool eof_received() { return false; }
};

using ProtocolPtr = std::shared_ptr<BaseProtocol>;
// A protocol factory (loop.create_server / create_connection's first argument).
using ProtocolFactory = std::function<ProtocolPtr()>;

namespace detail {
// Internal: a protocol that takes received data as a view of the transport's read buffer
// (StreamReaderProtocol feeds its StreamReader without making a bytes object first).
class ViewProtocol : public Protocol {
 public:
  virtual void data_received_view(std::string_view data) = 0;
  void data_received(const Bytes& data) override { data_received_view(data); }
};
// "<__main__.Name object at 0x?>" for the dynamic type of `obj`.
std::string object_repr(const std::type_info& type);
}  // namespace detail

}  // namespace aio
