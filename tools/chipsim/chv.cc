#include "tools/chipsim/chv.h"

namespace simkms::chip {

StatusOr<SecretBytes> EncodeChv(std::string_view digits, std::size_t min_digits, std::size_t max_digits) {
  if (digits.size() < min_digits || digits.size() > max_digits) {
    return InvalidArgumentError("must be " +
                                (min_digits == max_digits ? std::to_string(min_digits)
                                                          : std::to_string(min_digits) + " to " + std::to_string(max_digits)) +
                                " digits, got " + std::to_string(digits.size()));
  }
  SecretBytes block(kChvSize);
  uint8_t* p = block.mutable_data();
  for (std::size_t i = 0; i < kChvSize; ++i) p[i] = 0xff;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (digits[i] < '0' || digits[i] > '9') return InvalidArgumentError("must be decimal digits only");
    p[i] = static_cast<uint8_t>(digits[i]);
  }
  return block;
}

bool IsWellFormedPin(ByteView block) {
  if (block.size() != kChvSize) return false;
  std::size_t digits = 0;
  while (digits < kChvSize && block[digits] >= '0' && block[digits] <= '9') ++digits;
  if (digits < 4) return false;
  for (std::size_t i = digits; i < kChvSize; ++i) {
    if (block[i] != 0xff) return false;
  }
  return true;
}

StatusOr<Chv> Chv::Create(SecretBytes value, uint8_t max_tries, uint8_t tries_left) {
  if (value.size() != kChvSize) return InvalidArgumentError("a CHV value is 8 bytes");
  if (max_tries == 0 || tries_left > max_tries) {
    return InvalidArgumentError("CHV tries left " + std::to_string(tries_left) + " out of range 0.." +
                                std::to_string(max_tries));
  }
  Chv chv;
  chv.value_ = std::move(value);
  chv.max_tries_ = max_tries;
  chv.tries_left_ = tries_left;
  return chv;
}

Chv::Outcome Chv::Verify(ByteView presented) {
  if (blocked()) return Outcome::kBlocked;
  // Decrement first, restore on success: a card that loses power between the
  // comparison and the counter update must not have granted a free try.
  --tries_left_;
  if (ConstantTimeEquals(presented, value_.reveal())) {
    tries_left_ = max_tries_;
    return Outcome::kOk;
  }
  return Outcome::kWrong;
}

void Chv::Set(SecretBytes value) {
  value_ = std::move(value);
  tries_left_ = max_tries_;
}

}  // namespace simkms::chip
