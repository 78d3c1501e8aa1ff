{
  "targets": [
    {
      "target_name": "cachalot_peer",
      "sources": ["src/addon.cc", "src/block-assembler.cc", "../common/crc32c.cc", "src/h2-client.cc", "src/tls-transport.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lnghttp2", "-llz4"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
