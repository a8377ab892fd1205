// Little-endian byte writing and bounds-checked reading, for the compressed
// file. The reader checks every read against the bytes that remain and
// throws FormatError, so a parser built on it cannot run off its buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/bit_stream.h"

namespace dcomp {

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { unsigned_le(v, 2); }
  void u32(uint32_t v) { unsigned_le(v, 4); }
  void u64(uint64_t v) { unsigned_le(v, 8); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  // Unsigned LEB128: 7 bits per byte, low bits first, high bit set on all
  // but the last byte. Small counts and dimensions take one or two bytes.
  void varint(uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(uint8_t(v | 0x80));
      v >>= 7;
    }
    bytes_.push_back(uint8_t(v));
  }
  void string(const std::string& s) {  // varint length, then the bytes
    varint(s.size());
    bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  void bytes(const uint8_t* data, size_t size) { bytes_.insert(bytes_.end(), data, data + size); }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& buffer() { return bytes_; }

 private:
  void unsigned_le(uint64_t v, int count) {
    for (int i = 0; i < count; ++i) bytes_.push_back(uint8_t(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code
// points above U+10FFFF.
inline bool is_utf8(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n;) {
    const uint8_t c = p[i];
    const int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0 || i + size_t(extra) >= n) return false;
    uint32_t code = extra == 0 ? c : c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      if ((p[i + size_t(k)] & 0xC0) != 0x80) return false;
      code = code << 6 | (p[i + size_t(k)] & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += size_t(extra) + 1;
  }
  return true;
}

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t u8() { return uint8_t(unsigned_le(1)); }
  uint16_t u16() { return uint16_t(unsigned_le(2)); }
  uint32_t u32() { return uint32_t(unsigned_le(4)); }
  uint64_t u64() { return unsigned_le(8); }
  float f32() {
    const uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t byte = u8();
      if (shift == 63 && byte > 1) break;  // more than 64 bits
      // A last byte of 0 after others adds nothing: one encoding per value.
      if (byte == 0 && shift > 0) throw FormatError("overlong variable-length integer");
      v |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    throw FormatError("malformed variable-length integer");
  }
  // A UTF-8 string of at most `max_length` bytes (checked before allocating).
  std::string string(uint32_t max_length) {
    const uint64_t length = varint();
    if (length > max_length) throw FormatError("string of " + std::to_string(length) + " bytes exceeds the limit");
    const uint8_t* p = take(length);
    if (!is_utf8(p, size_t(length))) throw FormatError("string is not UTF-8");
    return std::string(reinterpret_cast<const char*>(p), size_t(length));
  }
  // The next `count` bytes, in place.
  const uint8_t* take(uint64_t count) {
    if (count > remaining()) throw FormatError("file ends early (truncated?)");
    const uint8_t* p = data_ + position_;
    position_ += size_t(count);
    return p;
  }
  size_t remaining() const { return size_ - position_; }
  size_t position() const { return position_; }

 private:
  uint64_t unsigned_le(int count) {
    const uint8_t* p = take(uint64_t(count));
    uint64_t v = 0;
    for (int i = count - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
  }
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

}  // namespace dcomp
