// CRC32C (Castagnoli), as @node-rs/crc32's crc32c computes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cachalot {

// The CRC32C of data appended to bytes whose CRC32C was `crc` (0 to start).
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length);

}  // namespace cachalot
