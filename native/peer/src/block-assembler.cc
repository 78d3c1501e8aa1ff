#include "block-assembler.h"

#include <lz4.h>

#include <cstring>

#include "../../common/crc32c.h"

namespace cachalot {
namespace {

constexpr uint64_t kFieldLength = 1;
constexpr uint64_t kFieldCrc32c = 2;
constexpr uint64_t kFieldData = 3;
constexpr uint64_t kFieldEncoding = 4;
constexpr uint64_t kFieldWireLength = 5;
constexpr uint64_t kWireVarint = 0;
constexpr uint64_t kWireI64 = 1;
constexpr uint64_t kWireLen = 2;
constexpr uint64_t kWireI32 = 5;
constexpr size_t kPrefixBytes = 5;
// lz4-napi's prefix: the uncompressed length, little-endian.
constexpr size_t kLz4PrefixBytes = 4;

uint32_t ReadUInt32LE(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

bool BlockAssembler::Fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool BlockAssembler::Write(const uint8_t* piece, size_t size) {
  if (!error_.empty()) return false;
  size_t at = 0;
  while (at < size) {
    switch (state_) {
      case State::kPrefix: {
        size_t n = std::min(kPrefixBytes - prefixFilled_, size - at);
        std::memcpy(prefix_ + prefixFilled_, piece + at, n);
        prefixFilled_ += n;
        at += n;
        if (prefixFilled_ < kPrefixBytes) break;
        if (prefix_[0] != 0) return Fail("sent a compressed message, which was not asked for");
        prefixFilled_ = 0;
        messageLeft_ = static_cast<int64_t>(static_cast<uint32_t>(prefix_[1]) << 24 | static_cast<uint32_t>(prefix_[2]) << 16 | static_cast<uint32_t>(prefix_[3]) << 8 | prefix_[4]);
        if (!StartField()) return false;
        break;
      }
      case State::kKey:
      case State::kValue: {
        bool done = false;
        if (!ReadVarint(piece[at++], done)) return false;
        if (!done) break;
        uint64_t value = varintValue_;
        varintValue_ = 0;
        varintShift_ = 0;
        if (!(state_ == State::kKey ? OnKey(value) : OnValue(value))) return false;
        break;
      }
      case State::kData:
      case State::kSkip: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(bytesLeft_, size - at));
        if (state_ == State::kData && !Take(piece + at, n)) return false;
        bytesLeft_ -= n;
        messageLeft_ -= static_cast<int64_t>(n);
        at += n;
        if (bytesLeft_ == 0 && !StartField()) return false;
        break;
      }
    }
  }
  return true;
}

bool BlockAssembler::ReadVarint(uint8_t byte, bool& done) {
  if (--messageLeft_ < 0) return Fail("sent a message shorter than its fields");
  if (varintShift_ > 63) return Fail("sent a malformed varint");
  varintValue_ |= static_cast<uint64_t>(byte & 0x7f) << varintShift_;
  varintShift_ += 7;
  done = (byte & 0x80) == 0;
  return true;
}

bool BlockAssembler::StartField() {
  if (messageLeft_ < 0) return Fail("sent a field longer than its message");
  state_ = messageLeft_ == 0 ? State::kPrefix : State::kKey;
  return true;
}

bool BlockAssembler::OnKey(uint64_t key) {
  field_ = key >> 3;
  wire_ = key & 7;
  if (wire_ == kWireI64 || wire_ == kWireI32) return Skip(wire_ == kWireI64 ? 8 : 4);
  if (wire_ != kWireVarint && wire_ != kWireLen) return Fail("sent a field of wire type " + std::to_string(wire_));
  state_ = State::kValue;
  return true;
}

bool BlockAssembler::OnValue(uint64_t value) {
  if (wire_ == kWireLen) {
    if (value > static_cast<uint64_t>(messageLeft_)) return Fail("sent a field longer than its message");
    if (field_ == kFieldData) {
      bytesLeft_ = value;
      state_ = State::kData;
      return value == 0 ? StartField() : true;
    }
    return Skip(value);
  }
  if (field_ == kFieldLength) headerLength_ = value;
  if (field_ == kFieldCrc32c) headerCrc_ = static_cast<uint32_t>(value);
  if (field_ == kFieldEncoding) encoding_ = static_cast<ChunkEncoding>(value);
  if (field_ == kFieldWireLength) wireLength_ = value;
  return StartField();
}

bool BlockAssembler::Skip(uint64_t bytes) {
  if (bytes > static_cast<uint64_t>(messageLeft_)) return Fail("sent a field longer than its message");
  bytesLeft_ = bytes;
  state_ = State::kSkip;
  return bytes == 0 ? StartField() : true;
}

bool BlockAssembler::Take(const uint8_t* bytes, size_t size) {
  if (wireBytes_ == 0 && !Start()) return false;
  if (compressed_) {
    if (wireBytes_ + size > lz4_.size()) return Fail("sent more than its " + std::to_string(lz4_.size()) + " bytes of lz4 data");
    std::memcpy(lz4_.data() + wireBytes_, bytes, size);
  } else {
    if (wireBytes_ + size > length_) return Fail("sent more than the block's " + std::to_string(length_) + " bytes");
    std::memcpy(target_ + wireBytes_, bytes, size);
    // While the piece is still in the CPU's cache.
    crc_ = Crc32c(crc_, target_ + wireBytes_, size);
  }
  wireBytes_ += size;
  return true;
}

bool BlockAssembler::Start() {
  if (headerLength_ != length_) return Fail("sent a block of " + std::to_string(headerLength_) + " bytes for one of " + std::to_string(length_));
  if (encoding_ == ChunkEncoding::kRaw) return true;
  if (encoding_ != ChunkEncoding::kLz4) return Fail("sent a block in encoding " + std::to_string(static_cast<uint64_t>(encoding_)) + ", which was not asked for");
  // Only a block that shrinks is sent compressed: a larger claim is a lie, and memory it must not get.
  if (wireLength_ <= kLz4PrefixBytes || wireLength_ > length_) return Fail("sent " + std::to_string(wireLength_) + " bytes of lz4 data for a block of " + std::to_string(length_));
  lz4_.resize(wireLength_);
  compressed_ = true;
  return true;
}

bool BlockAssembler::Finish() {
  if (!error_.empty()) return false;
  uint64_t wanted = compressed_ ? lz4_.size() : length_;
  if (wireBytes_ != wanted || state_ != State::kPrefix || prefixFilled_ != 0) {
    return Fail("ended the block after " + std::to_string(wireBytes_) + " of " + std::to_string(wanted) + " bytes");
  }
  if (compressed_) {
    uint32_t claimed = ReadUInt32LE(lz4_.data());
    if (claimed != length_) return Fail("sent lz4 data of a block of " + std::to_string(claimed) + " bytes for one of " + std::to_string(length_));
    int got = LZ4_decompress_safe(reinterpret_cast<const char*>(lz4_.data() + kLz4PrefixBytes), reinterpret_cast<char*>(target_),
                                  static_cast<int>(lz4_.size() - kLz4PrefixBytes), static_cast<int>(length_));
    if (got < 0) return Fail("sent lz4 data that does not decompress (corrupt at byte " + std::to_string(-got) + ")");
    if (static_cast<size_t>(got) != length_) return Fail("sent lz4 data of " + std::to_string(got) + " bytes for a block of " + std::to_string(length_));
    lz4_ = std::vector<uint8_t>();
    crc_ = Crc32c(0, target_, length_);
  }
  if (crc_ != headerCrc_) return Fail("sent a block whose CRC32C does not match");
  return true;
}

}  // namespace cachalot
