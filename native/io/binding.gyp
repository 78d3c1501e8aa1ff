{
  "targets": [
    {
      "target_name": "cachalot_io",
      "sources": ["src/addon.cc", "src/aligned-buffer.cc", "src/checksum.cc", "src/file-ranges.cc", "src/file-lock.cc", "../common/crc32c.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
