#include "libtorch/unpickler.h"

#include <cstring>
#include <unordered_map>

namespace dcomp::pickle {
namespace {

// A state_dict of a large model holds a few thousand objects; a memo or
// stack this deep means a hostile or broken file.
constexpr size_t kMaxStack = size_t{1} << 20;
constexpr uint32_t kMaxMemo = uint32_t{1} << 22;

ValueRef make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

class Machine {
 public:
  Machine(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  ValueRef run() {
    for (;;) {
      const uint8_t op = byte();
      if (op == '.') {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) throw PickleError("pickle ends with a malformed stack");
        return stack_.back();
      }
      step(op);
      if (stack_.size() > kMaxStack) throw PickleError("pickle stack too deep");
    }
  }

 private:
  void step(uint8_t op) {
    switch (op) {
      case 0x80: byte(); break;             // PROTO
      case 0x95: bytes(8); break;           // FRAME: the length is advisory
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case 'N': stack_.push_back(make(Value::Kind::kNone)); break;
      case 0x88: push_bool(true); break;    // NEWTRUE
      case 0x89: push_bool(false); break;   // NEWFALSE
      case 'K': push_int(byte()); break;    // BININT1
      case 'M': push_int(le(2)); break;     // BININT2
      case 'J': push_int(int32_t(uint32_t(le(4)))); break;  // BININT
      case 0x8a: push_long(byte()); break;  // LONG1
      case 'G': push_float(); break;        // BINFLOAT
      case 'X': push_string(le(4)); break;  // BINUNICODE
      case 0x8c: push_string(byte()); break;  // SHORT_BINUNICODE
      case 'T': push_string(le(4)); break;  // BINSTRING
      case 'U': push_string(byte()); break;  // SHORT_BINSTRING
      case ')': stack_.push_back(make(Value::Kind::kTuple)); break;  // EMPTY_TUPLE
      case ']': stack_.push_back(make(Value::Kind::kList)); break;   // EMPTY_LIST
      case '}': stack_.push_back(make(Value::Kind::kDict)); break;   // EMPTY_DICT
      case 0x85: tuple_of(1); break;        // TUPLE1
      case 0x86: tuple_of(2); break;        // TUPLE2
      case 0x87: tuple_of(3); break;        // TUPLE3
      case 't': tuple_from_mark(); break;   // TUPLE
      case 'q': memo_put(byte()); break;    // BINPUT
      case 'r': memo_put(le(4)); break;     // LONG_BINPUT
      case 0x94: memo_put(uint32_t(memo_.size())); break;  // MEMOIZE
      case 'h': memo_get(byte()); break;    // BINGET
      case 'j': memo_get(le(4)); break;     // LONG_BINGET
      case 'c': global(); break;            // GLOBAL
      case 'R': reduce(); break;            // REDUCE
      case 'Q': persistent_load(); break;   // BINPERSID
      case 's': set_items(stack_.size() - 2); break;  // SETITEM
      case 'u': set_items(pop_mark()); break;         // SETITEMS
      case 'a': append_items(stack_.size() - 1); break;  // APPEND
      case 'e': append_items(pop_mark()); break;         // APPENDS
      case 'b': pop(); top(); break;        // BUILD: object state is not needed
      default: throw PickleError("unsupported pickle opcode 0x" + hex(op));
    }
  }

  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }

  const uint8_t* bytes(size_t n) {
    if (n > size_ - pos_) throw PickleError("pickle is truncated");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t byte() { return *bytes(1); }
  uint64_t le(int n) {  // little-endian unsigned
    const uint8_t* p = bytes(size_t(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
  }
  std::string line() {
    const void* end = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!end) throw PickleError("pickle is truncated");
    const size_t n = size_t(static_cast<const uint8_t*>(end) - (data_ + pos_));
    std::string s(reinterpret_cast<const char*>(bytes(n)), n);
    pos_ += 1;
    return s;
  }

  ValueRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      throw PickleError("pickle stack underflow");
    ValueRef v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValueRef& top() {
    if (stack_.empty()) throw PickleError("pickle stack underflow");
    return stack_.back();
  }
  size_t pop_mark() {
    if (marks_.empty()) throw PickleError("pickle has no mark");
    const size_t m = marks_.back();
    marks_.pop_back();
    return m;
  }

  void push_bool(bool b) {
    auto v = make(Value::Kind::kBool);
    v->integer = b;
    stack_.push_back(v);
  }
  void push_int(int64_t i) {
    auto v = make(Value::Kind::kInt);
    v->integer = i;
    stack_.push_back(v);
  }
  void push_long(size_t n) {  // two's complement little-endian, up to 8 bytes
    if (n > 8) throw PickleError("pickle integer wider than 64 bits");
    const uint8_t* p = bytes(n);
    uint64_t u = 0;
    for (size_t i = n; i-- > 0;) u = u << 8 | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);
    push_int(int64_t(u));
  }
  void push_float() {
    const uint8_t* p = bytes(8);  // big-endian IEEE 754 double
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = u << 8 | p[i];
    auto v = make(Value::Kind::kFloat);
    std::memcpy(&v->real, &u, sizeof u);
    stack_.push_back(v);
  }
  void push_string(uint64_t n) {
    auto v = make(Value::Kind::kString);
    if (n > size_ - pos_) throw PickleError("pickle is truncated");
    v->text.assign(reinterpret_cast<const char*>(bytes(size_t(n))), size_t(n));
    stack_.push_back(v);
  }
  void tuple_of(size_t n) {
    if (stack_.size() < n) throw PickleError("pickle stack underflow");
    auto v = make(Value::Kind::kTuple);
    v->items.resize(n);
    for (size_t i = n; i-- > 0;) v->items[i] = pop();
    stack_.push_back(v);
  }
  void tuple_from_mark() {
    const size_t m = pop_mark();
    auto v = make(Value::Kind::kTuple);
    v->items.assign(stack_.begin() + long(m), stack_.end());
    stack_.resize(m);
    stack_.push_back(v);
  }
  void memo_put(uint64_t index) {
    if (index >= kMaxMemo) throw PickleError("pickle memo index too large");
    memo_[uint32_t(index)] = top();
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(uint32_t(index));
    if (index >= kMaxMemo || it == memo_.end()) throw PickleError("pickle refers to a missing memo entry");
    stack_.push_back(it->second);
  }
  void global() {
    auto v = make(Value::Kind::kGlobal);
    const std::string module = line();
    v->text = module + "." + line();
    stack_.push_back(v);
  }

  void set_items(size_t from) {
    if (from < 1 || from > stack_.size() || (stack_.size() - from) % 2 != 0)
      throw PickleError("pickle SETITEMS without key-value pairs");
    ValueRef dict = stack_[from - 1];
    if (dict->kind != Value::Kind::kDict) throw PickleError("pickle sets items on a non-dict");
    dict->items.insert(dict->items.end(), stack_.begin() + long(from), stack_.end());
    stack_.resize(from);
  }
  void append_items(size_t from) {
    if (from < 1 || from > stack_.size()) throw PickleError("pickle APPEND without a list");
    ValueRef list = stack_[from - 1];
    if (list->kind != Value::Kind::kList) throw PickleError("pickle appends to a non-list");
    list->items.insert(list->items.end(), stack_.begin() + long(from), stack_.end());
    stack_.resize(from);
  }

  static int64_t as_int(const ValueRef& v, const char* what) {
    if (v->kind != Value::Kind::kInt) throw PickleError(std::string("pickle: ") + what + " is not an integer");
    return v->integer;
  }
  static std::vector<int64_t> as_ints(const ValueRef& v, const char* what) {
    if (v->kind != Value::Kind::kTuple) throw PickleError(std::string("pickle: ") + what + " is not a tuple");
    std::vector<int64_t> out;
    for (const ValueRef& item : v->items) out.push_back(as_int(item, what));
    return out;
  }

  // Calls one of the few functions a state_dict pickle may name.
  void reduce() {
    ValueRef args = pop();
    ValueRef callable = pop();
    if (callable->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple)
      throw PickleError("pickle REDUCE on something other than a known function");
    const std::string& name = callable->text;
    const auto& a = args->items;
    if (name == "collections.OrderedDict" && a.empty()) {
      stack_.push_back(make(Value::Kind::kDict));
    } else if (name == "torch._utils._rebuild_tensor_v2" && a.size() >= 4 &&
               a[0]->kind == Value::Kind::kStorage) {
      auto t = make(Value::Kind::kTensor);
      t->tensor.storage_key = a[0]->text;
      t->tensor.storage_type = a[0]->storage_type;
      t->tensor.storage_offset = as_int(a[1], "storage offset");
      t->tensor.sizes = as_ints(a[2], "tensor size");
      t->tensor.strides = as_ints(a[3], "tensor stride");
      stack_.push_back(t);
    } else if ((name == "torch._utils._rebuild_parameter" ||
                name == "torch.jit._pickle.restore_type_tag") && !a.empty()) {
      stack_.push_back(a[0]);
    } else {
      throw PickleError("pickle calls unsupported function '" + name + "'");
    }
  }

  // ('storage', <global torch.XStorage>, key, location, numel)
  void persistent_load() {
    ValueRef pid = pop();
    if (pid->kind != Value::Kind::kTuple || pid->items.size() < 3 ||
        pid->items[0]->kind != Value::Kind::kString || pid->items[0]->text != "storage" ||
        pid->items[1]->kind != Value::Kind::kGlobal || pid->items[2]->kind != Value::Kind::kString)
      throw PickleError("pickle has an unsupported persistent id");
    auto s = make(Value::Kind::kStorage);
    const std::string& type = pid->items[1]->text;  // "torch.FloatStorage"
    s->storage_type = type.substr(type.rfind('.') + 1);
    s->text = pid->items[2]->text;
    stack_.push_back(s);
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<ValueRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, ValueRef> memo_;
};

}  // namespace

ValueRef unpickle(const uint8_t* data, size_t size) { return Machine(data, size).run(); }

}  // namespace dcomp::pickle
