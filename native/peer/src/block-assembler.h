// One block put together from the BlockChunk messages of a GetBlock call
// (proto/cachalot/peer.proto; src/cluster/block-chunk-codec.ts frames them):
// fields in any order and unknown fields as protobuf reads them, the
// header before the data as peer.proto says, and every way a peer can lie
// (length, CRC32C, lz4) refused in one line of what it did wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cachalot {

enum class ChunkEncoding : uint64_t { kRaw = 0, kLz4 = 1 };

class BlockAssembler {
 public:
  // target: exactly the block's length; raw data goes straight in, lz4 data once decompressed.
  BlockAssembler(uint8_t* target, size_t length) : target_(target), length_(length) {}

  // A piece of the response body, of any size; false once the peer sent what no encoder would (error() says what).
  bool Write(const uint8_t* piece, size_t size);
  // At the call's end: true when the block is whole, as long as asked, and matches its CRC32C.
  bool Finish();

  const std::string& error() const { return error_; }
  uint32_t crc32c() const { return crc_; }
  ChunkEncoding encoding() const { return encoding_; }
  uint64_t wireBytes() const { return wireBytes_; }

 private:
  enum class State { kPrefix, kKey, kValue, kData, kSkip };
  bool Fail(std::string why);
  bool Take(const uint8_t* bytes, size_t size);
  bool Start();
  bool ReadVarint(uint8_t byte, bool& done);
  bool StartField();
  bool OnKey(uint64_t key);
  bool OnValue(uint64_t value);
  bool Skip(uint64_t bytes);

  uint8_t* target_;
  size_t length_;
  std::string error_;

  // The gRPC framing and protobuf fields.
  State state_ = State::kPrefix;
  uint8_t prefix_[5] = {};
  size_t prefixFilled_ = 0;
  int64_t messageLeft_ = 0;
  uint64_t field_ = 0;
  uint64_t wire_ = 0;
  uint64_t varintValue_ = 0;
  unsigned varintShift_ = 0;
  uint64_t bytesLeft_ = 0;
  // The block's header as sent.
  uint64_t headerLength_ = 0;
  uint32_t headerCrc_ = 0;
  ChunkEncoding encoding_ = ChunkEncoding::kRaw;
  uint64_t wireLength_ = 0;

  // The data: straight into the target, or lz4 gathered and then decompressed into it.
  uint64_t wireBytes_ = 0;
  uint32_t crc_ = 0;
  std::vector<uint8_t> lz4_;
  bool compressed_ = false;
};

}  // namespace cachalot
